"""Queue a booking's e-mails from a request; they go out once its transaction commits."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from email.message import EmailMessage

from flask import current_app, url_for
from flask_babel import force_locale

from portal.booking.models import Booking
from portal.booking.notifications import (
    cancellation_email,
    confirmation_email,
    decision_email,
    rescheduled_email,
)
from portal.businesses.models import Business
from portal.extensions import db
from portal.mail.outbox import queue_mail


def absolute_url(path: str) -> str:
    return current_app.config["BASE_URL"] + path


def manage_url(token: str, business: Business | None = None) -> str:
    """The full address of a booking's manage page (of ``business``, else the current one)."""
    slug = {"slug": business.slug} if business is not None else {}
    return absolute_url(url_for("booking.manage", token=token, **slug))


def _language(business: Business, by_staff: bool) -> AbstractContextManager:
    """The language an e-mail is written in.

    The client's own (this request's) when the client acted; the business's
    when staff did, as the staff member's page language says nothing of the client.
    """
    return force_locale(business.locale) if by_staff else nullcontext()


def send_confirmation(business: Business, booking: Booking, token: str) -> None:
    """Queue the confirmation with the manage link of ``token``."""
    link = manage_url(token, business)
    with _language(business, booking.created_by == "staff"):
        _queue(confirmation_email(business, booking, link, current_app.config["MAIL_FROM"]))


def send_cancellation(business: Business, booking: Booking, link_url: str | None) -> None:
    """Queue the cancellation; ``link_url`` is where the client sees the booking, if known."""
    with _language(business, booking.cancelled_by == "staff"):
        _queue(cancellation_email(business, booking, link_url, current_app.config["MAIL_FROM"]))


def send_decision(business: Business, booking: Booking) -> None:
    """Queue the news that staff approved or declined a booking request."""
    with _language(business, by_staff=True):
        _queue(decision_email(business, booking, current_app.config["MAIL_FROM"]))


def send_rescheduled(business: Business, booking: Booking, token: str) -> None:
    """Queue the news of the booking's new time, with its manage link and an updated .ics."""
    link = manage_url(token, business)
    _queue(rescheduled_email(business, booking, link, current_app.config["MAIL_FROM"]))


def _queue(message: EmailMessage) -> None:
    queue_mail(db.session, current_app.extensions["portal_mail"], message)
