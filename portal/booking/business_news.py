"""Booking news for the business: e-mails to the owner and providers about their bookings.

``portal.booking.mailing`` calls one of ``booked``, ``cancelled``,
``decided``, ``moved`` wherever it queues the client's e-mail, so the
business hears of exactly the changes the client hears of, in the same
transaction. Each staff member who wants the news (``portal.staff.
notification_prefs``) gets one outbox row; the worker writes the message.

Decisions:

* A booking waiting for approval is news of the event "pending" (awaiting
  approval), not "new". Once staff approve it, the others who want "new"
  news hear of it as a new booking; a declined request is news of the event
  "cancelled" (the time is free again).
* Staff actions are news too (the issue: cancelled "by client or staff"),
  but the member who acted is never told of their own action: they just saw
  it happen on the page. Everyone else is told according to their choices.
* A moved booking is told to whoever wants news of the booking as it is now
  (its new provider); the old time and provider are not known here.
* Messages are written in the business's language. In HIPAA mode they name
  neither the client nor the service (not in the subject, the body or any
  address): only the time, the business and the link to the staff page.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import NamedTuple

from babel.dates import format_date
from flask import current_app, g, has_request_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.booking.models import DECLINED, PENDING, Booking
from portal.booking.notifications import SUBJECT_DAY_PATTERNS
from portal.businesses.models import Business
from portal.extensions import db
from portal.hipaa.service import phi_free
from portal.mail.compose import business_sender, compose, render_parts
from portal.mail.outbox import enqueue, renders
from portal.staff import notification_prefs as prefs
from portal.web.urls import absolute_url

KIND = "booking.business_news"


class Times(NamedTuple):
    start_at: datetime
    end_at: datetime


# -- queueing (called by portal.booking.mailing, inside the change's transaction) ------------


def booked(business: Business, booking: Booking) -> None:
    """A booking was made: "awaiting approval" news if it waits for staff, else "new"."""
    tell(db.session, business, booking, prefs.PENDING if booking.status == PENDING else prefs.NEW)


def cancelled(business: Business, booking: Booking) -> None:
    tell(db.session, business, booking, prefs.CANCELLED)


def decided(business: Business, booking: Booking) -> None:
    """Staff approved (now a new booking) or declined (the time is free again) a request."""
    event = prefs.CANCELLED if booking.status == DECLINED else prefs.NEW
    tell(db.session, business, booking, event)


def moved(business: Business, booking: Booking) -> None:
    tell(db.session, business, booking, prefs.MOVED)


def tell(
    session: Session,
    business: Business,
    booking: Booking,
    event: str,
    actor_id: int | None = None,
) -> int:
    """Queue news of ``event`` for every member who wants it; return how many were queued.

    ``actor_id``: the staff member who acted (default: the one signed in to this
    request, if any), who is left out.
    """
    if event not in prefs.EVENTS:
        raise ValueError(f"unknown booking event {event!r}")
    if actor_id is None:
        actor_id = _acting_member_id()
    count = 0
    for member in prefs.recipients(session, business.id, booking.provider, event):
        if member.id == actor_id:
            continue
        enqueue(
            session,
            kind=KIND,
            recipient=member.email,
            payload={
                "business_id": business.id,
                "booking_id": booking.id,
                "staff_user_id": member.id,
                "event": event,
                # The time as of the news: a "new booking" sent after a move still says
                # when it was booked for; the "moved" news that follows has the new time.
                "start_at": booking.start_at.isoformat(),
                "end_at": booking.end_at.isoformat(),
            },
            business_id=business.id,
            locale=business.locale,
        )
        count += 1
    return count


def _acting_member_id() -> int | None:
    """The staff user of this request (platform support acts as no member)."""
    if not has_request_context():
        return None
    staff = g.get("staff")
    return staff.id if isinstance(staff, StaffUser) else None


# -- writing (the worker) -------------------------------------------------------------------


@renders(KIND)
def _render(session: Session, payload: dict) -> EmailMessage | None:
    booking = session.get(Booking, payload["booking_id"])
    if booking is None or booking.business_id != payload["business_id"]:
        return None
    member = session.get(StaffUser, payload["staff_user_id"])
    if member is None or member.business_id != booking.business_id or not member.active:
        return None
    business = session.get(Business, booking.business_id)
    times = Times(
        datetime.fromisoformat(payload["start_at"]), datetime.fromisoformat(payload["end_at"])
    )
    return news_email(business, booking, member, payload["event"], times)


def news_email(
    business: Business,
    booking: Booking,
    member: StaffUser,
    event: str,
    times: Times | None = None,
) -> EmailMessage:
    """The e-mail telling ``member`` of ``event`` about ``booking`` (text and HTML);
    ``times``: the booking's start and end as of the news (default: as it is now)."""
    private = phi_free(business)
    times = times or Times(booking.start_at, booking.end_at)
    headline = news_headline(booking, event)
    text, html = render_parts(
        "booking/email/business_news",
        brand=business.name,
        business=business,
        booking=booking,
        member=member,
        event=event,
        start_at=times.start_at,
        end_at=times.end_at,
        private=private,
        headline=headline,
        lead=news_lead(business, booking, event),
        booking_url=absolute_url(url_for("schedule.show_booking", booking_id=booking.id)),
        settings_url=absolute_url(url_for("staff.notifications")),
    )
    name, address = business_sender(business, current_app.config["MAIL_FROM"])
    return compose(
        sender_name=name,
        sender_address=address,
        # Staff news goes to staff; replies go to the sending address, as they are internal.
        to=(member.name, member.email),
        subject=news_subject(
            business, booking, event, private=private, headline=headline, start_at=times.start_at
        ),
        text=text,
        html=html,
    )


def news_headline(booking: Booking, event: str) -> str:
    """What happened, in a few words: the subject's start and the HTML part's heading."""
    if event == prefs.PENDING:
        return _("Booking awaiting your approval")
    if event == prefs.MOVED:
        return _("Booking moved")
    if event == prefs.CANCELLED and booking.status == DECLINED:
        return _("Booking request declined")
    if event == prefs.CANCELLED:
        return _("Booking cancelled")
    return _("New booking")


def news_lead(business: Business, booking: Booking, event: str) -> str:
    """The message's first sentence: what happened, and who did it."""
    name = business.name
    if event == prefs.PENDING:
        return _("A booking request at %(business)s is waiting for your approval.", business=name)
    if event == prefs.MOVED:
        return _("A booking at %(business)s has moved to a new time.", business=name)
    if event == prefs.CANCELLED and booking.status == DECLINED:
        return _(
            "A booking request at %(business)s was declined; the time is free again.",
            business=name,
        )
    if event == prefs.CANCELLED and booking.cancelled_by == "staff":
        return _(
            "A booking at %(business)s was cancelled by staff; the time is free again.",
            business=name,
        )
    if event == prefs.CANCELLED:
        return _(
            "A booking at %(business)s was cancelled by the client; the time is free again.",
            business=name,
        )
    if booking.decided_at is not None:
        return _("A booking request at %(business)s was approved and is confirmed.", business=name)
    if booking.created_by == "staff":
        return _("Staff booked an appointment for a client at %(business)s.", business=name)
    return _("A client booked an appointment at %(business)s.", business=name)


def news_subject(
    business: Business,
    booking: Booking,
    event: str,
    *,
    private: bool,
    headline: str | None = None,
    start_at: datetime | None = None,
) -> str:
    """The subject, like "New booking: Haircut, 03 Mar 2026 10:00 – Mia Example";
    in HIPAA mode only the time and the business."""
    when = subject_time(business, start_at or booking.start_at)
    if private:
        what = _("%(when)s – %(business)s", when=when, business=business.name)
    else:
        what = _(
            "%(service)s, %(when)s – %(client)s",
            service=booking.service.name,
            when=when,
            client=booking.client.name,
        )
    return _("%(news)s: %(what)s", news=headline or news_headline(booking, event), what=what)


def subject_time(business: Business, start_at: datetime) -> str:
    """The subject's time, like 03 Mar 2026 09:00 (business's timezone, message's language)."""
    start = business.local(start_at)
    locale = get_locale()
    language = locale.language if locale is not None else "en"
    pattern = SUBJECT_DAY_PATTERNS.get(language, SUBJECT_DAY_PATTERNS["en"])
    return f"{format_date(start.date(), pattern, locale=language)} {start:%H:%M}"
