"""Queue a booking's e-mails from a request; they go out once its transaction commits."""

from __future__ import annotations

from email.message import EmailMessage

from flask import current_app, url_for

from portal.booking.models import Booking
from portal.booking.notifications import cancellation_email, confirmation_email
from portal.businesses.models import Business
from portal.extensions import db
from portal.mail.outbox import queue_mail


def absolute_url(path: str) -> str:
    return current_app.config["BASE_URL"] + path


def manage_url(token: str) -> str:
    """The full address of a booking's manage page (the current business's)."""
    return absolute_url(url_for("booking.manage", token=token))


def send_confirmation(business: Business, booking: Booking, token: str) -> None:
    """Queue the confirmation with the manage link of ``token``."""
    _queue(
        confirmation_email(business, booking, manage_url(token), current_app.config["MAIL_FROM"])
    )


def send_cancellation(business: Business, booking: Booking, link_url: str) -> None:
    """Queue the cancellation; ``link_url`` is where the client sees the booking."""
    _queue(cancellation_email(business, booking, link_url, current_app.config["MAIL_FROM"]))


def _queue(message: EmailMessage) -> None:
    queue_mail(db.session, current_app.extensions["portal_mail"], message)
