"""The owner's audit log as a CSV file, and the audit event its download leaves."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.audit.filters import AuditFilter
from portal.audit.service import Origin
from portal.businesses.models import Business
from portal.csv_safety import cell

CSV_COLUMNS = ("id", "time_utc", "event", "actor_kind", "actor", "address", "browser", "details")


def events_csv(session: Session, business: Business, chosen: AuditFilter) -> tuple[str, int]:
    """The business's events that match ``chosen`` as CSV text, and how many there are."""
    events = audit.events_for(session, business.id, limit=None, **chosen.query_args(business))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow(
            cell(value)
            for value in (
                event.id,
                event.created_at,
                event.kind,
                event.actor_kind,
                event.actor_label,
                event.ip_address,
                event.user_agent,
                json.dumps(event.details or {}, sort_keys=True),
            )
        )
    return buffer.getvalue(), len(events)


def record_export(
    session: Session, actor, chosen: AuditFilter, count: int, now: datetime, origin: Origin
) -> None:
    """Note that ``actor`` downloaded ``count`` events of their business's log."""
    audit.record(
        session,
        audit.AUDIT_EXPORTED,
        now,
        business_id=actor.business_id,
        actor=actor,
        origin=origin,
        events=count,
        filters=chosen.details(),
    )
