"""The providers' daily agenda: one e-mail a day listing the provider's bookings of the day.

A business that sets an agenda time (``Business.agenda_minute``, minutes
after its local midnight) has the worker queue, at or after that time, one
e-mail for each active provider who signs in as an active staff member
(``Provider.staff_user_id``). The job runs every minute; the outbox's
``dedupe_key`` ("agenda:<provider>:<local day>") makes it at most one e-mail
per provider and day, however often (or on however many workers) it runs.

Only today's agenda is sent: a worker that was down all morning sends the
day's agenda late, never yesterday's (the key names the business's local
date now). The list is written when the message is: the bookings (confirmed
and awaiting approval) as they stand at sending time. The agenda is the
business's setting; the members' booking-news choices do not affect it. In
HIPAA mode it shows times only.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from email.message import EmailMessage

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import StaffUser
from portal.booking.models import ACTIVE_STATUSES, Booking
from portal.businesses.models import Business
from portal.catalog.models import Provider
from portal.hipaa.service import phi_free
from portal.mail.compose import business_sender, compose, render_parts
from portal.mail.models import OutboxMessage
from portal.mail.outbox import enqueue, renders
from portal.web.formatting import long_date
from portal.web.urls import absolute_url

KIND = "booking.agenda"
MINUTES_A_DAY = 24 * 60


def dedupe_key(provider_id: int, day: date) -> str:
    return f"agenda:{provider_id}:{day.isoformat()}"


def due_day(business: Business, now: datetime) -> date | None:
    """The business's local date if its agenda time has come today, else None."""
    if business.agenda_minute is None:
        return None
    local = business.local(now)
    if local.hour * 60 + local.minute < business.agenda_minute:
        return None
    return local.date()


def queue_due_agendas(database, now: datetime) -> int:
    """Queue every agenda that is due at ``now`` and not queued yet; return how many were."""
    session = database.writer()
    with session, session.begin():
        return queue_agendas(session, now)


def queue_agendas(session: Session, now: datetime) -> int:
    """``queue_due_agendas`` in the caller's transaction."""
    queued = 0
    for business in session.scalars(
        select(Business).where(Business.agenda_minute.is_not(None)).order_by(Business.id)
    ):
        day = due_day(business, now)
        if day is None:
            continue
        for provider, member in _linked_providers(session, business.id):
            queued += _queue_one(session, business, provider, member, day)
    return queued


def _linked_providers(session: Session, business_id: int) -> list[tuple[Provider, StaffUser]]:
    """The business's active providers who sign in as an active member of the same business."""
    rows = session.execute(
        select(Provider, StaffUser)
        .join(StaffUser, StaffUser.id == Provider.staff_user_id)
        .where(
            Provider.business_id == business_id,
            Provider.active,
            StaffUser.business_id == business_id,
            StaffUser.active,
            # An invitation not yet taken up gets no agenda (as it gets no booking news).
            StaffUser.password_hash.is_not(None),
        )
        .order_by(Provider.id)
    )
    return [(provider, member) for provider, member in rows]


def _queue_one(
    session: Session, business: Business, provider: Provider, member: StaffUser, day: date
) -> int:
    key = dedupe_key(provider.id, day)
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
        return 0
    try:
        # Another worker may have queued it since the look: its row's key wins.
        with session.begin_nested():
            enqueue(
                session,
                kind=KIND,
                recipient=member.email,
                payload={
                    "business_id": business.id,
                    "provider_id": provider.id,
                    "staff_user_id": member.id,
                    "day": day.isoformat(),
                },
                business_id=business.id,
                locale=business.locale,
                dedupe_key=key,
            )
            session.flush()
    except IntegrityError:
        return 0
    return 1


def day_bookings(session: Session, business: Business, provider_id: int, day: date) -> list:
    """The provider's bookings (confirmed or awaiting approval) starting on the local ``day``."""
    start = datetime.combine(day, time(0), tzinfo=business.tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=business.tz)
    return list(
        session.scalars(
            select(Booking)
            .where(
                Booking.business_id == business.id,
                Booking.provider_id == provider_id,
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.start_at >= start,
                Booking.start_at < end,
            )
            .options(selectinload(Booking.client), selectinload(Booking.service))
            .order_by(Booking.start_at, Booking.id)
        )
    )


@renders(KIND)
def _render(session: Session, payload: dict) -> EmailMessage | None:
    business = session.get(Business, payload["business_id"])
    provider = session.get(Provider, payload["provider_id"])
    member = session.get(StaffUser, payload["staff_user_id"])
    if business is None or provider is None or member is None:
        return None
    if provider.business_id != business.id or member.business_id != business.id:
        return None
    if not member.active:
        return None
    return agenda_email(session, business, provider, member, date.fromisoformat(payload["day"]))


def agenda_email(
    session: Session, business: Business, provider: Provider, member: StaffUser, day: date
) -> EmailMessage:
    """The agenda of ``provider`` for ``day`` (text and HTML); times only in HIPAA mode."""
    bookings = day_bookings(session, business, provider.id, day)
    subject = _(
        "Agenda of %(provider)s for %(day)s: %(num)d booking(s)",
        provider=provider.name,
        day=long_date(day),
        num=len(bookings),
    )
    calendar_url = absolute_url(
        url_for("schedule.calendar", view="day", date=day.isoformat(), provider=provider.id)
    )
    text, html = render_parts(
        "booking/email/agenda",
        brand=business.name,
        subject=subject,
        business=business,
        provider=provider,
        member=member,
        day=day,
        bookings=bookings,
        private=phi_free(business),
        calendar_url=calendar_url,
    )
    name, address = business_sender(business, current_app.config["MAIL_FROM"])
    return compose(
        sender_name=name,
        sender_address=address,
        to=(member.name, member.email),
        subject=subject,
        text=text,
        html=html,
    )
