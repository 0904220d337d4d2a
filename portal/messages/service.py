"""Failed and retrying messages of one business, and sending a failed one again.

The outbox itself (``portal.mail.outbox``) knows nothing of owners or audit
events; this module is the staff side of it. Every query is scoped to the
business, so no owner sees or resends another business's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.audit.service import Origin
from portal.db import MAX_ID
from portal.mail import outbox
from portal.mail.models import FAILED, PENDING, OutboxMessage
from portal.web.lazy_text import lazy_text as _l

#: What a message is, in words, for the rows whose subject is empty: a message that
#: could not be written never got one. Kinds not named here show as they are.
KIND_LABELS = {
    "booking.confirmation": _l("Booking confirmation"),
    "booking.cancellation": _l("Booking cancellation"),
    "booking.decision": _l("Answer to a booking request"),
    "booking.rescheduled": _l("Booking moved"),
    "booking.reminder": _l("Booking reminder"),
    "booking.business_news": _l("Booking news for the team"),
    "booking.agenda": _l("Daily agenda"),
    "prerendered": _l("Account e-mail"),
}


def describe(message: OutboxMessage) -> str:
    """The message's subject, or what kind of message it is when it has none."""
    return message.subject or str(KIND_LABELS.get(message.kind, message.kind))


@dataclass(frozen=True)
class Retrying:
    """Messages that failed temporarily and wait for their next attempt."""

    count: int
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class FailedPage:
    failed: list[OutboxMessage]
    retrying: Retrying


def failed_page(session: Session, business_id: int) -> FailedPage:
    return FailedPage(
        failed=outbox.failed_messages(session, business_id),
        retrying=retrying(session, business_id),
    )


def retrying(session: Session, business_id: int) -> Retrying:
    """Pending messages that were tried already (the SMTP server is down or busy)."""
    count, next_attempt_at = session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.business_id == business_id,
            OutboxMessage.status == PENDING,
            OutboxMessage.attempts > 0,
        )
    ).one()
    return Retrying(count or 0, next_attempt_at)


def failed_count(session: Session, business_id: int) -> int:
    """How many messages of the business failed (the dashboard's warning says how many)."""
    return session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.business_id == business_id, OutboxMessage.status == FAILED
        )
    )


def resend(
    session: Session, business_id: int, message_id: int, actor, now: datetime, origin: Origin
) -> OutboxMessage | None:
    """Queue a failed message of the business again; None if there is no such message.

    The audit event names the message by its id only: its recipient and
    subject may be a client's address and a service's name.
    """
    if not 0 < message_id <= MAX_ID:
        return None
    message = outbox.resend(session, business_id, message_id)
    if message is None:
        return None
    audit.record(
        session,
        audit.MESSAGE_RESENT,
        now,
        business_id=business_id,
        actor=actor,
        origin=origin,
        message=message.id,
        message_kind=message.kind,
    )
    return message
