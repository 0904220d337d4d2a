"""The audit page's filters (user, kind, date range), read from its query string.

Shared by the owner's audit page (``staff.audit_log``) and its CSV export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import abort, request
from flask_babel import gettext as _

from portal.audit import service as audit
from portal.businesses.models import Business
from portal.web.fields import DateOutOfRange, parse_day


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

    def details(self) -> dict[str, str]:
        """The filters in force, as an audit event's details name them."""
        return {name: str(value) for name, value in vars(self).items() if value is not None}


def _local_midnight(business: Business, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=business.tz).astimezone(UTC)


def _date(name: str) -> date | None:
    try:
        return parse_day(request.args.get(name))
    except DateOutOfRange as refused:
        abort(400, description=str(refused))
    except ValueError:
        abort(
            400,
            description=_(
                "The %(name)s date is not valid. Use the form YYYY-MM-DD.", name=repr(name)
            ),
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
