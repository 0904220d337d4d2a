"""Confirmation and cancellation e-mails, each with an .ics attachment."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from babel.dates import format_date
from flask import render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy.orm import object_session

from portal.booking.models import CONFIRMED, PENDING, Booking
from portal.booking.service import times_rescheduled
from portal.businesses.models import Business
from portal.hipaa.service import phi_free


def _calendar(
    business: Business, booking: Booking, manage_url: str | None, *, cancelled: bool
) -> bytes:
    """An iCalendar file; without ``manage_url`` (unknown after booking) it names no link."""
    calendar = Calendar()
    calendar.add("prodid", "-//Portal//Booking//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"booking-{booking.id}@{business.slug}.portal")
    changes = (booking.created_at, booking.decided_at, booking.rescheduled_at, booking.cancelled_at)
    event.add("dtstamp", max(instant for instant in changes if instant is not None))
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    private = phi_free(business)
    event.add(
        "summary",
        _("Appointment – %(business)s", business=business.name)
        if private
        else f"{booking.service.name} – {business.name}",
    )
    if manage_url:
        event.add("description", _("Manage or cancel: %(url)s", url=manage_url))
        event.add("url", manage_url)
    if cancelled:
        event.add("status", "CANCELLED")
    else:
        event.add("status", "TENTATIVE" if booking.status == PENDING else "CONFIRMED")
    # Each later message about the same event must carry a higher sequence.
    session = object_session(booking)
    moves = times_rescheduled(session, booking) if session is not None else 0
    event.add("sequence", (booking.decided_at is not None) + cancelled + moves)
    calendar.add_component(event)
    return calendar.to_ical()


#: A subject's day: "03 Mar 2026" in English, "3. März 2026" in German.
SUBJECT_DAY_PATTERNS = {"en": "dd MMM y", "de": "d. MMM y"}


def _when(business: Business, booking: Booking) -> str:
    """A subject's time of the appointment, in the business's timezone and the mail's language."""
    start = business.local(booking.start_at)
    locale = get_locale()
    language = locale.language if locale is not None else "en"
    pattern = SUBJECT_DAY_PATTERNS.get(language, SUBJECT_DAY_PATTERNS["en"])
    return f"{format_date(start.date(), pattern, locale=language)} {start:%H:%M}"


def _attach_calendar(
    message: EmailMessage,
    business: Business,
    booking: Booking,
    manage_url: str | None,
    *,
    cancelled: bool,
) -> None:
    """Attach the booking's .ics: PUBLISH for a booking that stands, CANCEL for one that went."""
    message.add_attachment(
        _calendar(business, booking, manage_url, cancelled=cancelled),
        maintype="text",
        subtype="calendar",
        filename="cancellation.ics" if cancelled else "booking.ics",
        params={"method": "CANCEL" if cancelled else "PUBLISH"},
    )


def _what(business: Business, booking: Booking) -> str:
    """What a subject line names: the service, or only the business in HIPAA mode."""
    return business.name if phi_free(business) else booking.service.name


def _body(template: str, **context) -> str:
    """The text of a client e-mail; in HIPAA mode one that names only time, business, link."""
    if phi_free(context["business"]):
        return render_template("hipaa/email/booking_notice.txt", template=template, **context)
    return render_template(template, **context)


def _message(business: Business, booking: Booking, sender: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    # In HIPAA mode no message names the client, not even in the address line.
    name = "" if phi_free(business) else booking.client.name
    message["To"] = formataddr((name, booking.client.email))
    message["Message-ID"] = make_msgid(domain="portal.invalid")
    return message


def confirmation_email(
    business: Business, booking: Booking, manage_url: str, sender: str
) -> EmailMessage:
    """The e-mail a client receives once the booking (or booking request) is committed."""
    what, when = _what(business, booking), _when(business, booking)
    if booking.status == PENDING:
        subject = _("Booking requested: %(what)s, %(when)s", what=what, when=when)
    else:
        subject = _("Booking confirmed: %(what)s, %(when)s", what=what, when=when)
    message = _message(business, booking, sender, subject)
    message.set_content(
        _body(
            "booking/email/confirmation.txt",
            business=business,
            booking=booking,
            manage_url=manage_url,
        )
    )
    _attach_calendar(message, business, booking, manage_url, cancelled=False)
    return message


def cancellation_email(
    business: Business, booking: Booking, manage_url: str | None, sender: str
) -> EmailMessage:
    """The e-mail a client receives once a cancellation (by them or by staff) is committed."""
    subject = _(
        "Booking cancelled: %(what)s, %(when)s",
        what=_what(business, booking),
        when=_when(business, booking),
    )
    message = _message(business, booking, sender, subject)
    message.set_content(_body("booking/email/cancellation.txt", business=business, booking=booking))
    _attach_calendar(message, business, booking, manage_url, cancelled=True)
    return message


def decision_email(business: Business, booking: Booking, sender: str) -> EmailMessage:
    """The e-mail a client receives once staff approved or declined a booking request."""
    approved = booking.status == CONFIRMED
    what, when = _what(business, booking), _when(business, booking)
    if approved:
        subject = _("Booking confirmed: %(what)s, %(when)s", what=what, when=when)
    else:
        subject = _("Booking declined: %(what)s, %(when)s", what=what, when=when)
    message = _message(business, booking, sender, subject)
    message.set_content(
        _body(
            "booking/email/approved.txt" if approved else "booking/email/declined.txt",
            business=business,
            booking=booking,
        )
    )
    _attach_calendar(message, business, booking, None, cancelled=not approved)
    return message


def rescheduled_email(
    business: Business, booking: Booking, manage_url: str, sender: str
) -> EmailMessage:
    """The e-mail a client receives once their booking is moved: the new time, an updated .ics."""
    subject = _(
        "Booking moved: %(what)s, %(when)s",
        what=_what(business, booking),
        when=_when(business, booking),
    )
    message = _message(business, booking, sender, subject)
    message.set_content(
        _body(
            "booking/email/rescheduled.txt",
            business=business,
            booking=booking,
            manage_url=manage_url,
        )
    )
    _attach_calendar(message, business, booking, manage_url, cancelled=False)
    return message
