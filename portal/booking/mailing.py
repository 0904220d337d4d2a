"""A booking's e-mails: outbox rows written in the booking's own transaction.

The request only records which message is due (and the manage link it
carries, sealed); the worker writes it (templates, the .ics) and sends it.
So a rolled-back booking sends nothing, a committed one always gets its
message, and no client waits for the mail server.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from flask import current_app, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.booking import business_news
from portal.booking.models import Booking
from portal.booking.notifications import (
    cancellation_email,
    confirmation_email,
    decision_email,
    rescheduled_email,
)
from portal.booking.service import prefetch_reschedule_counts
from portal.businesses.models import Business
from portal.db import transaction_cache
from portal.extensions import db
from portal.mail.outbox import current_language, enqueue, renders
from portal.web.urls import absolute_url

CONFIRMATION = "booking.confirmation"
CANCELLATION = "booking.cancellation"
DECISION = "booking.decision"
RESCHEDULED = "booking.rescheduled"


def manage_url(token: str, business: Business | None = None) -> str:
    """The full address of a booking's manage page (of ``business``, else the current one)."""
    slug = {"slug": business.slug} if business is not None else {}
    return absolute_url(url_for("booking.manage", token=token, **slug))


def _language(business: Business, by_staff: bool) -> str:
    """The language an e-mail is written in.

    The client's own (this request's) when the client acted; the business's
    when staff did, as the staff member's page language says nothing of the client.
    """
    return business.locale if by_staff else current_language()


def send_confirmation(business: Business, booking: Booking, token: str) -> None:
    """The confirmation with the manage link of ``token``."""
    _queue(
        CONFIRMATION, business, booking, booking.created_by == "staff", manage_url(token, business)
    )
    business_news.booked(business, booking)


def send_cancellation(business: Business, booking: Booking, link_url: str | None) -> None:
    """The cancellation; ``link_url`` is where the client sees the booking, if known."""
    _queue(CANCELLATION, business, booking, booking.cancelled_by == "staff", link_url)
    business_news.cancelled(business, booking)


def send_decision(business: Business, booking: Booking) -> None:
    """The news that staff approved or declined a booking request."""
    _queue(DECISION, business, booking, True, None)
    business_news.decided(business, booking)


def send_rescheduled(
    business: Business, booking: Booking, token: str, *, by_staff: bool = False
) -> None:
    """The news of the booking's new time, with its manage link and an updated .ics."""
    _queue(RESCHEDULED, business, booking, by_staff, manage_url(token, business))
    business_news.moved(business, booking)


def _queue(
    kind: str, business: Business, booking: Booking, by_staff: bool, link: str | None
) -> None:
    if not booking.client.email:
        return  # staff booked for a client without an address: no client mails
    enqueue(
        db.session,
        kind=kind,
        recipient=booking.client.email,
        payload={"business_id": business.id, "booking_id": booking.id, "link": link},
        business_id=business.id,
        locale=_language(business, by_staff),
    )


_WITH_NAMES = (
    joinedload(Booking.client),
    joinedload(Booking.service),
    joinedload(Booking.provider),
)


def prefetch_bookings(session: Session, payloads: list[dict]) -> None:
    """Read the bookings of a batch's messages, with what they name, in a few queries.

    They are kept in the batch's cache (the identity map alone holds them
    weakly), with their businesses; how often each was moved (the .ics
    sequence) goes to ``prefetch_reschedule_counts``.
    """
    ids = sorted({payload["booking_id"] for payload in payloads if payload.get("booking_id")})
    if not ids:
        return
    bookings = transaction_cache(session, "mail_bookings")
    for booking in session.scalars(
        select(Booking)
        .where(Booking.id.in_(ids))
        .options(*_WITH_NAMES, selectinload(Booking.policy_version))
    ).unique():
        bookings[booking.id] = booking
    businesses = transaction_cache(session, "mail_businesses")
    wanted = {booking.business_id for booking in bookings.values()} - businesses.keys()
    for business in session.scalars(select(Business).where(Business.id.in_(wanted))):
        businesses[business.id] = business
    prefetch_reschedule_counts(session, ids)


def _load(session: Session, payload: dict) -> tuple[Business, Booking] | None:
    """The booking (with what every e-mail names, in one query) and its business.

    The worker writes a batch in one transaction: the business is read once for it.
    """
    booking = transaction_cache(session, "mail_bookings").get(payload["booking_id"])
    if booking is None:
        booking = session.get(Booking, payload["booking_id"], options=_WITH_NAMES)
    if booking is None or booking.business_id != payload["business_id"]:
        return None
    businesses = transaction_cache(session, "mail_businesses")
    if booking.business_id not in businesses:
        businesses[booking.business_id] = session.get(Business, booking.business_id)
    return businesses[booking.business_id], booking


def _renderer(
    write: Callable[[Business, Booking, str | None, str], EmailMessage],
) -> Callable[[Session, dict], EmailMessage | None]:
    def render(session: Session, payload: dict) -> EmailMessage | None:
        loaded = _load(session, payload)
        if loaded is None:
            return None
        business, booking = loaded
        return write(business, booking, payload["link"], current_app.config["MAIL_FROM"])

    return render


renders(CONFIRMATION, prefetch=prefetch_bookings)(_renderer(confirmation_email))
renders(CANCELLATION, prefetch=prefetch_bookings)(_renderer(cancellation_email))
renders(RESCHEDULED, prefetch=prefetch_bookings)(_renderer(rescheduled_email))
renders(DECISION, prefetch=prefetch_bookings)(
    _renderer(lambda business, booking, _link, sender: decision_email(business, booking, sender))
)
