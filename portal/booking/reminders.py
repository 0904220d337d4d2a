"""Client reminders: queued by the worker's minute job, written when they are sent.

Each business sets its lead times (``Business.reminder_hours``: "24", "48,2",
blank for none). ``queue_due_reminders`` finds, per business and lead time
``h``, the bookings whose reminder is due and adds, in one transaction, a
``BookingReminder`` row (unique per booking, ``h`` and start) and an outbox
row; a second run finds nothing to do. The rules:

- Only confirmed bookings get reminders: a pending request is not an
  appointment yet (once approved, it is one; see the next rule).
- A reminder is due from ``start - h`` until the start, unless the client
  switched reminders off for the booking.
- No late reminder for a booking made, approved or moved inside a lead time:
  its last change (``created_at``, ``decided_at`` or ``rescheduled_at``, the
  latest) must lie before ``start - h``.
- The start is part of the key, so a moved booking gets its reminders again
  for its new time; a cancelled one is no longer confirmed and gets none.
- When several lead times are due at once (the worker was down, the booking
  was made between them), only the one nearest the start is sent: a booking
  with a reminder of a lead time ``<= h`` for its start gets none for ``h``.
  The longer ones are not recorded; that rule alone keeps them from coming.

The renderer checks again when the worker writes the message: a booking
cancelled, moved, switched off or begun since the row was queued gets no
reminder, nor does one whose nearer reminder was queued while this one was
stuck (the row fails as "no longer exists"; the outbox has no status of its
own for a message that became pointless).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from babel.dates import format_date
from flask import current_app, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.booking.mailing import manage_url
from portal.booking.models import CONFIRMED, Booking, BookingReminder
from portal.booking.notifications import to_client
from portal.booking.service import open_manage_token
from portal.businesses.models import Business
from portal.clients.models import Client
from portal.clock import utcnow
from portal.hipaa.service import phi_free
from portal.mail.compose import render_parts
from portal.mail.outbox import enqueue, renders
from portal.web.formatting import local_datetime
from portal.web.owner_texts import translated
from portal.web.urls import absolute_url

log = logging.getLogger(__name__)

REMINDER = "booking.reminder"
#: The longest lead time a business may set (a week); longer values are ignored.
LONGEST_LEAD_HOURS = 24 * 7


def reminder_hours(business: Business) -> list[int]:
    """The business's lead times in hours, shortest first; [] when it sends no reminders."""
    hours = set()
    for part in (business.reminder_hours or "").split(","):
        part = part.strip()
        if part.isdigit() and 0 < int(part) <= LONGEST_LEAD_HOURS:
            hours.add(int(part))
    return sorted(hours)


def switch_shown(business: Business, booking: Booking, now: datetime) -> bool:
    """Whether the manage page offers the reminder switch: reminders are sent, the booking is ahead."""
    return bool(reminder_hours(business)) and booking.is_active and now < booking.start_at


def switch_reminders(booking: Booking, on: bool) -> None:
    """The client's choice: reminders for this booking, or none (from the manage page or a mail)."""
    booking.reminders_off = not on


def parse_switch(raw: str | None) -> bool:
    """The manage page's "on"/"off"; ValueError for anything else."""
    if raw not in ("on", "off"):
        raise ValueError(raw)
    return raw == "on"


# The job ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Due:
    booking: Booking
    hours_before: int


def _last_change(booking: Booking) -> datetime:
    """When the booking last got its time or its confirmation."""
    changes = (booking.created_at, booking.decided_at, booking.rescheduled_at)
    return max(instant for instant in changes if instant is not None)


def _due_reminders(session: Session, business: Business, now: datetime) -> list[_Due]:
    """The reminders of ``business`` to queue now, at most one per booking (the nearest)."""
    due: list[_Due] = []
    chosen: set[int] = set()
    for hours in reminder_hours(business):
        lead = timedelta(hours=hours)
        nearer_one_queued = exists().where(
            BookingReminder.booking_id == Booking.id,
            BookingReminder.start_at == Booking.start_at,
            BookingReminder.hours_before <= hours,
        )
        bookings = session.scalars(
            select(Booking)
            .where(
                Booking.business_id == business.id,
                Booking.start_at > now,
                Booking.start_at <= now + lead,
                Booking.status == CONFIRMED,
                Booking.reminders_off.is_(False),
                # A client staff booked without an e-mail address gets no reminders.
                Booking.client.has(Client.email.is_not(None)),
                ~nearer_one_queued,
            )
            .options(selectinload(Booking.client))
            .order_by(Booking.start_at, Booking.id)
        )
        for booking in bookings:
            if booking.id in chosen or _last_change(booking) >= booking.start_at - lead:
                continue
            chosen.add(booking.id)
            due.append(_Due(booking, hours))
    return due


def _queue(session: Session, business: Business, reminder: _Due, now: datetime) -> None:
    booking = reminder.booking
    start = booking.start_at.isoformat()
    session.add(
        BookingReminder(
            booking_id=booking.id,
            hours_before=reminder.hours_before,
            start_at=booking.start_at,
            queued_at=now,
        )
    )
    enqueue(
        session,
        kind=REMINDER,
        recipient=booking.client.email,
        business_id=business.id,
        locale=business.locale,
        payload={
            "business_id": business.id,
            "booking_id": booking.id,
            "hours_before": reminder.hours_before,
            "start_at": start,
        },
        dedupe_key=f"reminder:{booking.id}:{reminder.hours_before}:{start}",
    )


def _businesses_with_due_reminders(database, now: datetime) -> list[int]:
    """A read first: the write lock is taken only for businesses with something to queue."""
    with database.reader() as session:
        businesses = session.scalars(
            select(Business).where(Business.reminder_hours != "").order_by(Business.id)
        ).all()
        return [b.id for b in businesses if _due_reminders(session, b, now)]


def queue_due_reminders(database, now: datetime) -> int:
    """Queue every reminder due at ``now``; return how many. Needs an app context.

    One transaction per business: the reminder rows and their outbox rows
    commit together. The unique keys are the second wall should two runs
    ever overlap (the worker's job lock is the first): the later run's
    business is rolled back and skipped.
    """
    queued = 0
    for business_id in _businesses_with_due_reminders(database, now):
        session = database.writer()
        try:
            with session, session.begin():
                business = session.get(Business, business_id)
                due = _due_reminders(session, business, now)
                for reminder in due:
                    _queue(session, business, reminder, now)
        except IntegrityError:
            log.warning("reminders of business %s were queued by another run", business_id)
            continue
        queued += len(due)
    return queued


# The message --------------------------------------------------------------------------

#: A reminder's subject day: "Tue 03 Mar" in English, "Di., 3. März" in German.
SUBJECT_DAY_PATTERNS = {"en": "EEE dd MMM", "de": "EEE, d. MMM"}


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


def _when(business: Business, booking: Booking) -> str:
    start = business.local(booking.start_at)
    language = _language()
    pattern = SUBJECT_DAY_PATTERNS.get(language, SUBJECT_DAY_PATTERNS["en"])
    return f"{format_date(start.date(), pattern, locale=language)} {start:%H:%M}"


def unsubscribe_url(token: str, business: Business) -> str:
    """The one-click address that switches the booking's reminders off (RFC 8058)."""
    return absolute_url(url_for("booking.unsubscribe", token=token, slug=business.slug))


def cancellation_note(business: Business, booking: Booking, now: datetime) -> str:
    """The reminder's line about cancelling, by the rule of the policy the client accepted."""
    deadline = booking.cancel_deadline()
    if deadline is None:
        return _(
            "This booking cannot be cancelled online. Please contact %(business)s if you "
            "cannot come.",
            business=business.name,
        )
    if deadline >= booking.start_at:
        return _("You can cancel online any time before the appointment.")
    if now < deadline:
        return _(
            "Free cancellation until %(deadline)s.",
            deadline=local_datetime(deadline, business),
        )
    return _("The free cancellation period has ended.")


def still_due(booking: Booking | None, payload: dict, now: datetime) -> bool:
    """Whether the reminder a row stands for is still wanted when the worker writes it."""
    return (
        booking is not None
        and booking.business_id == payload["business_id"]
        and booking.status == CONFIRMED
        and not booking.reminders_off
        and booking.start_at.isoformat() == payload["start_at"]
        and now < booking.start_at
    )


def reminder_email(
    business: Business, booking: Booking, sender: str, now: datetime
) -> EmailMessage:
    """The reminder: time, business, (service and provider,) manage link, cancellation rule.

    In HIPAA mode it names neither the client nor the service. Bookings made
    before manage tokens were sealed get no link (the confirmation has it)
    and no unsubscribe header (its address needs the token).
    """
    private = phi_free(business)
    token = open_manage_token(booking)
    link = manage_url(token, business) if token else None
    unsubscribe = unsubscribe_url(token, business) if token else None
    when = _when(business, booking)
    if private:
        subject = _(
            "Reminder: your appointment at %(business)s, %(when)s",
            business=business.name,
            when=when,
        )
    else:
        subject = _(
            "Reminder: %(service)s, %(when)s",
            service=translated(booking.service, "name"),
            when=when,
        )
    text, html = render_parts(
        "booking/email/reminder",
        brand=business.name,
        business=business,
        booking=booking,
        private=private,
        manage_url=link,
        unsubscribe_url=unsubscribe,
        cancellation=cancellation_note(business, booking, now),
    )
    return to_client(business, booking, sender, subject, text, html, unsubscribe_url=unsubscribe)


def _overtaken(session: Session, booking: Booking, payload: dict) -> bool:
    """Whether a nearer reminder for the same start was queued since (the mail was stuck)."""
    return session.scalar(
        select(
            exists().where(
                BookingReminder.booking_id == booking.id,
                BookingReminder.start_at == booking.start_at,
                BookingReminder.hours_before < payload["hours_before"],
            )
        )
    )


@renders(REMINDER)
def _render_reminder(session: Session, payload: dict) -> EmailMessage | None:
    booking = session.get(Booking, payload["booking_id"])
    now = utcnow()
    if not still_due(booking, payload, now) or _overtaken(session, booking, payload):
        return None
    business = session.get(Business, booking.business_id)
    return reminder_email(business, booking, current_app.config["MAIL_FROM"], now)
