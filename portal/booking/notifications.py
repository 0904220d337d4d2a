"""A client's booking e-mails: text and HTML (mail/layout.html), each with an .ics attached.

Built with ``portal.mail.compose``: from the business's name at the portal's
sending address, replies to the business's contact address.
"""

from __future__ import annotations

from email.message import EmailMessage

from babel.dates import format_date
from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy.orm import object_session

from portal.booking.models import CONFIRMED, PENDING, Booking
from portal.booking.service import times_rescheduled
from portal.branding.service import contact
from portal.businesses.models import Business
from portal.hipaa.service import phi_free
from portal.mail.compose import attach_calendar, business_sender, compose, render_parts
from portal.web.owner_texts import translated
from portal.web.urls import absolute_url


def calendar_file(
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
        else f"{translated(booking.service, 'name')} – {business.name}",
    )
    if manage_url:
        event.add("description", _("Manage or cancel: %(url)s", url=manage_url))
        event.add("url", manage_url)
    details = contact(business)
    if details.address_lines:
        event.add("location", details.address_one_line)
    if details.email:
        organizer = vCalAddress(f"mailto:{details.email}")
        organizer.params["cn"] = vText(business.name)
        event.add("organizer", organizer)
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


def calendar_url(manage_url: str) -> str:
    """The .ics download of the booking whose manage page is ``manage_url``.

    The route (``booking.calendar_download``) sits right under the manage page, so
    the address follows from the link an outbox row holds, without its token.
    """
    return f"{manage_url}/booking.ics"


def _attach_calendar(
    message: EmailMessage,
    business: Business,
    booking: Booking,
    manage_url: str | None,
    *,
    cancelled: bool,
) -> None:
    """Attach the booking's .ics: PUBLISH for a booking that stands, CANCEL for one that went."""
    attach_calendar(
        message,
        calendar_file(business, booking, manage_url, cancelled=cancelled),
        method="CANCEL" if cancelled else "PUBLISH",
        filename="cancellation.ics" if cancelled else "booking.ics",
    )


def _what(business: Business, booking: Booking) -> str:
    """What a subject line names: the service, or only the business in HIPAA mode."""
    return business.name if phi_free(business) else translated(booking.service, "name")


def _book_again_url(business: Business) -> str:
    return absolute_url(url_for("booking.list_services", slug=business.slug))


def _message(
    business: Business, booking: Booking, sender: str, subject: str, template: str, **context
) -> EmailMessage:
    """The e-mail in both parts; in HIPAA mode one that names only time, business, link.

    In HIPAA mode no part names the client or the service, nor does the
    address line; the HTML part is the HIPAA notice's too.
    """
    private = phi_free(business)
    context.update(business=business, booking=booking, brand=business.name, template=template)
    text, html = render_parts(
        "hipaa/email/booking_notice" if private else template.removesuffix(".txt"), **context
    )
    return to_client(business, booking, sender, subject, text, html)


def to_client(
    business: Business,
    booking: Booking,
    sender: str,
    subject: str,
    text: str,
    html: str,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """A message from the business to the booking's client (unnamed in HIPAA mode)."""
    name, address = business_sender(business, sender)
    return compose(
        sender_name=name,
        sender_address=address,
        to=("" if phi_free(business) else booking.client.name, booking.client.email),
        subject=subject,
        text=text,
        html=html,
        reply_to=business.contact_email or None,
        unsubscribe_url=unsubscribe_url,
    )


def confirmation_email(
    business: Business, booking: Booking, manage_url: str, sender: str
) -> EmailMessage:
    """The e-mail a client receives once the booking (or booking request) is committed."""
    what, when = _what(business, booking), _when(business, booking)
    if booking.status == PENDING:
        subject = _("Booking requested: %(what)s, %(when)s", what=what, when=when)
    else:
        subject = _("Booking confirmed: %(what)s, %(when)s", what=what, when=when)
    message = _message(
        business,
        booking,
        sender,
        subject,
        "booking/email/confirmation.txt",
        manage_url=manage_url,
        calendar_url=calendar_url(manage_url),
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
    message = _message(
        business,
        booking,
        sender,
        subject,
        "booking/email/cancellation.txt",
        book_again_url=_book_again_url(business),
    )
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
    message = _message(
        business,
        booking,
        sender,
        subject,
        "booking/email/approved.txt" if approved else "booking/email/declined.txt",
        book_again_url=None if approved else _book_again_url(business),
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
    message = _message(
        business,
        booking,
        sender,
        subject,
        "booking/email/rescheduled.txt",
        manage_url=manage_url,
        calendar_url=calendar_url(manage_url),
    )
    _attach_calendar(message, business, booking, manage_url, cancelled=False)
    return message
