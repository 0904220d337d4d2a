"""The owner's audit log: filters (user, kind, date range) and the CSV export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, Response, abort, g, request
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required
from portal.audit import service as audit
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.extensions import db
from portal.staff.guards import pending_step_redirect

blueprint = Blueprint("audit", __name__, url_prefix="/staff/audit")
blueprint.before_request(pending_step_redirect)

CSV_COLUMNS = ("id", "time_utc", "event", "actor_kind", "actor", "address", "browser", "details")


@dataclass(frozen=True)
class AuditFilter:
    kind: str | None = None
    user: str | None = None
    start: date | None = None
    end: date | None = None

    def query_args(self, business: Business) -> dict:
        """Keyword arguments for ``events_for``; dates are whole local days, ``end`` inclusive."""
        return {
            "kind": self.kind,
            "actor_label": self.user,
            "since": _local_midnight(business, self.start) if self.start else None,
            "until": _local_midnight(business, self.end + timedelta(days=1)) if self.end else None,
        }


def _local_midnight(business: Business, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=business.tz).astimezone(UTC)


def _date(name: str) -> date | None:
    raw = request.args.get(name) or ""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10]) if len(raw) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str):
    abort(
        400,
        description=_("The %(name)s date is not valid. Use the form YYYY-MM-DD.", name=repr(name)),
    )


def parse_filter() -> AuditFilter:
    """The filters of the audit page's query string; 400 with a clear message when invalid."""
    kind = request.args.get("kind") or None
    if kind is not None and kind not in audit.KINDS:
        abort(400, description=_("Unknown event kind. Choose one from the list."))
    user = (request.args.get("user") or "")[:254] or None
    start, end = _date("from"), _date("to")
    if start and end and end < start:
        abort(400, description=_("The 'to' date must not be before the 'from' date."))
    return AuditFilter(kind, user, start, end)


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells that start like a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@blueprint.get("/export.csv")
@owner_required
def export_csv():
    business = db.session.get(Business, g.staff.business_id)
    chosen = parse_filter()
    events = audit.events_for(db.session, business.id, limit=None, **chosen.query_args(business))
    with db.writer() as writer, writer.begin():
        audit.record(
            writer,
            audit.AUDIT_EXPORTED,
            utcnow(),
            business_id=business.id,
            actor=g.staff,
            origin=origin(),
            events=len(events),
            filters={k: str(v) for k, v in vars(chosen).items() if v is not None},
        )
    buffer = io.StringIO()
    writer_csv = csv.writer(buffer)
    writer_csv.writerow(CSV_COLUMNS)
    for event in events:
        writer_csv.writerow(
            _cell(value)
            for value in (
                event.id,
                event.created_at.isoformat(),
                event.kind,
                event.actor_kind,
                event.actor_label,
                event.ip_address,
                event.user_agent,
                json.dumps(event.details or {}, sort_keys=True),
            )
        )
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{business.slug}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
