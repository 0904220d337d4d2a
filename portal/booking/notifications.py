"""Confirmation and cancellation e-mails, each with an .ics attachment."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import render_template
from icalendar import Calendar, Event

from portal.booking.models import Booking
from portal.businesses.models import Business


def _calendar(business: Business, booking: Booking, manage_url: str, *, cancelled: bool) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Portal//Booking//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"booking-{booking.id}@{business.slug}.portal")
    event.add("dtstamp", booking.cancelled_at if cancelled else booking.created_at)
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    event.add("summary", f"{booking.service.name} – {business.name}")
    event.add("description", f"Manage or cancel: {manage_url}")
    event.add("url", manage_url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", 1 if cancelled else 0)
    calendar.add_component(event)
    return calendar.to_ical()


def _message(business: Business, booking: Booking, sender: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = formataddr((booking.client.name, booking.client.email))
    message["Message-ID"] = make_msgid(domain="portal.invalid")
    return message


def confirmation_email(
    business: Business, booking: Booking, manage_url: str, sender: str
) -> EmailMessage:
    """The e-mail a client receives once the booking is committed."""
    start = business.local(booking.start_at)
    message = _message(
        business,
        booking,
        sender,
        f"Booking confirmed: {booking.service.name}, {start:%d %b %Y %H:%M}",
    )
    message.set_content(
        render_template(
            "booking/email/confirmation.txt",
            business=business,
            booking=booking,
            manage_url=manage_url,
        )
    )
    message.add_attachment(
        _calendar(business, booking, manage_url, cancelled=False),
        maintype="text",
        subtype="calendar",
        filename="booking.ics",
        params={"method": "PUBLISH"},
    )
    return message


def cancellation_email(
    business: Business, booking: Booking, manage_url: str, sender: str
) -> EmailMessage:
    """The e-mail a client receives once a cancellation is committed."""
    start: datetime = business.local(booking.start_at)
    message = _message(
        business,
        booking,
        sender,
        f"Booking cancelled: {booking.service.name}, {start:%d %b %Y %H:%M}",
    )
    message.set_content(
        render_template("booking/email/cancellation.txt", business=business, booking=booking)
    )
    message.add_attachment(
        _calendar(business, booking, manage_url, cancelled=True),
        maintype="text",
        subtype="calendar",
        filename="cancellation.ics",
        params={"method": "CANCEL"},
    )
    return message
