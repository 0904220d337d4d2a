"""Refused late cancellations, counted one way for the dashboard and a client's page.

A late cancellation is a booking whose client tried to cancel it after the
policy's deadline and was refused. Pressing "cancel" three times on one
booking is one late cancellation (as for the auto-block rule), dated by the
first press.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.booking.models import LATE_CANCEL_REFUSED, BookingEvent


def late_cancellation_times(
    session: Session,
    business_id: int,
    *,
    client_id: int | None = None,
    since: datetime | None = None,
) -> list[datetime]:
    """When each refused late cancellation (one per booking) was first tried, oldest first."""
    first = func.min(BookingEvent.created_at)
    query = (
        select(first)
        .where(BookingEvent.business_id == business_id, BookingEvent.kind == LATE_CANCEL_REFUSED)
        .group_by(BookingEvent.booking_id)
        .order_by(first)
    )
    if client_id is not None:
        query = query.where(BookingEvent.client_id == client_id)
    if since is not None:
        query = query.having(first >= since)
    return list(session.scalars(query))


def count_late_cancellations(session: Session, business_id: int, client_id: int) -> int:
    """The client's refused late cancellations, ever."""
    return len(late_cancellation_times(session, business_id, client_id=client_id))
