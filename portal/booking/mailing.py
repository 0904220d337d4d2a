"""A booking's e-mails: written and sent once the request's transaction has committed.

Writing one (templates, the .ics) takes a third of a booking request; after
the commit it no longer holds the write lock other bookings wait for, and a
rolled-back change sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
from portal.web.urls import absolute_url

log = logging.getLogger(__name__)


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
    """The confirmation with the manage link of ``token``."""
    link = manage_url(token, business)
    _after_commit(
        "confirmation",
        business,
        booking,
        booking.created_by == "staff",
        lambda mail_from: confirmation_email(business, booking, link, mail_from),
    )


def send_cancellation(business: Business, booking: Booking, link_url: str | None) -> None:
    """The cancellation; ``link_url`` is where the client sees the booking, if known."""
    _after_commit(
        "cancellation",
        business,
        booking,
        booking.cancelled_by == "staff",
        lambda mail_from: cancellation_email(business, booking, link_url, mail_from),
    )


def send_decision(business: Business, booking: Booking) -> None:
    """The news that staff approved or declined a booking request."""
    _after_commit(
        "decision",
        business,
        booking,
        True,
        lambda mail_from: decision_email(business, booking, mail_from),
    )


def send_rescheduled(business: Business, booking: Booking, token: str) -> None:
    """The news of the booking's new time, with its manage link and an updated .ics."""
    link = manage_url(token, business)
    _after_commit(
        "new time",
        business,
        booking,
        False,
        lambda mail_from: rescheduled_email(business, booking, link, mail_from),
    )


def _after_commit(
    kind: str,
    business: Business,
    booking: Booking,
    by_staff: bool,
    write: Callable[[str], EmailMessage],
) -> None:
    """Write (in the e-mail's language) and send the message once the change is committed."""

    def send() -> None:
        try:
            with _language(business, by_staff):
                message = write(current_app.config["MAIL_FROM"])
        except Exception:
            log.exception("could not write the %s of booking %s", kind, booking.id)
            return
        try:
            current_app.extensions["portal_mail"].send(message)
        except Exception:
            # The booking stands even if the mail server is down; the failure is
            # logged without the message body, which holds a manage link.
            log.exception("could not send e-mail %r to %s", message["Subject"], message["To"])

    db.after_commit(send)
