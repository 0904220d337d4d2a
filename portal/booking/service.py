"""Booking and cancellation rules, as plain functions over a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from portal.booking.availability import MAX_OCCUPANCY, slots_on
from portal.booking.models import (
    ACTIVE_STATUSES,
    CANCELLED,
    CONFIRMED,
    Booking,
    BookingConsent,
    Client,
)
from portal.booking.tokens import hash_token, new_manage_token
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.policies.models import CancellationPolicyVersion, TermsVersion


class BookingError(Exception):
    """A booking or cancellation the rules refuse."""


class SlotUnavailable(BookingError):
    """The business does not offer this time (outside hours, too soon, too far, misaligned)."""


class SlotTaken(BookingError):
    """The time was offered but another booking now holds it."""


class ConsentMissing(BookingError):
    """A required consent was not given."""


class CancellationTooLate(BookingError):
    """The policy's cancellation window has closed."""

    def __init__(self, deadline: datetime | None) -> None:
        super().__init__("The cancellation window has closed.")
        self.deadline = deadline


class AlreadyCancelled(BookingError):
    """The booking was cancelled before."""


@dataclass(frozen=True)
class ClientDetails:
    name: str
    email: str
    phone: str


@dataclass(frozen=True)
class Consents:
    """The document versions the client accepted, and where from."""

    terms: TermsVersion | None
    policy: CancellationPolicyVersion | None
    ip_address: str


def bookable_providers(session: Session, business: Business, service: Service) -> list[Provider]:
    """Active providers of the business who perform ``service``."""
    return [p for p in service.providers if p.active and p.business_id == business.id]


def _find_or_add_client(
    session: Session, business: Business, details: ClientDetails, known: Client | None = None
) -> Client:
    """``known`` (a signed-in account's client) or the client of ``details.email``."""
    if known is not None:
        if known.business_id != business.id:
            raise ValueError("a client books only at their own business")
        client = known
    else:
        email = details.email.strip().lower()
        client = session.scalars(
            select(Client).where(Client.business_id == business.id, Client.email == email)
        ).first()
    if client is None:
        client = Client(
            business_id=business.id, name=details.name, email=email, phone=details.phone
        )
        session.add(client)
        session.flush()
    elif not client.phone and details.phone:
        client.phone = details.phone
    return client


def _lock_provider(session: Session, provider: Provider) -> None:
    """Serialise bookings of one provider.

    PostgreSQL takes a row lock; SQLite's write transaction (``BEGIN
    IMMEDIATE``) already excludes every other writer, and it ignores FOR UPDATE.
    """
    session.execute(select(Provider.id).where(Provider.id == provider.id).with_for_update())


def _provider_is_free(session: Session, provider: Provider, start: datetime, until: datetime):
    return not session.scalar(
        select(
            exists().where(
                Booking.provider_id == provider.id,
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.start_at >= start - MAX_OCCUPANCY,
                Booking.start_at < until,
                Booking.occupied_until > start,
            )
        )
    )


def book(
    session: Session,
    business: Business,
    service: Service,
    provider: Provider | None,
    start: datetime,
    details: ClientDetails,
    consents: Consents,
    now: datetime,
    *,
    client: Client | None = None,
) -> tuple[Booking, str]:
    """Book ``service`` at ``start`` with ``provider`` (None: any free provider).

    ``client`` is the client a signed-in account books as; without it the
    booking belongs to the client of ``details.email``, added if new.

    Must run in a transaction that holds the write lock (see
    ``Database.session``): the overlap check and the insert happen under it,
    so two clients cannot both win the same time. Returns the booking and
    the manage token, which is not stored.
    """
    if business.terms_enabled and consents.terms is None:
        raise ConsentMissing("terms")
    if business.cancellation_policy_enabled and consents.policy is None:
        raise ConsentMissing("cancellation_policy")
    candidates = bookable_providers(session, business, service)
    if provider is not None:
        candidates = [p for p in candidates if p.id == provider.id]
    local_day = business.local(start).date()
    offered = {
        slot.start: slot.provider_ids
        for slot in slots_on(
            session, business, service, candidates, local_day, now, include_bookings=False
        )
    }
    if start not in offered:
        raise SlotUnavailable(start)

    end = start + timedelta(minutes=service.duration_minutes)
    occupied_until = end + timedelta(minutes=service.buffer_minutes)
    chosen = None
    for candidate in candidates:
        if candidate.id not in offered[start]:
            continue
        _lock_provider(session, candidate)
        if _provider_is_free(session, candidate, start, occupied_until):
            chosen = candidate
            break
    if chosen is None:
        raise SlotTaken(start)

    token, token_hash = new_manage_token()
    booking = Booking(
        business_id=business.id,
        client=_find_or_add_client(session, business, details, client),
        service_id=service.id,
        provider_id=chosen.id,
        start_at=start,
        end_at=end,
        occupied_until=occupied_until,
        status=CONFIRMED,
        price_cents=service.price_cents,
        manage_token_hash=token_hash,
        policy_version_id=consents.policy.id if consents.policy else None,
        created_at=now,
    )
    if consents.terms is not None:
        booking.consents.append(
            BookingConsent(
                kind="terms",
                terms_version_id=consents.terms.id,
                accepted_at=now,
                ip_address=consents.ip_address,
            )
        )
    if consents.policy is not None:
        booking.consents.append(
            BookingConsent(
                kind="cancellation_policy",
                policy_version_id=consents.policy.id,
                accepted_at=now,
                ip_address=consents.ip_address,
            )
        )
    session.add(booking)
    session.flush()
    return booking, token


def find_booking_by_token(
    session: Session, business: Business, token: str, now: datetime
) -> Booking | None:
    """The booking this manage token opens, or None when unknown or expired.

    A link expires when its appointment has ended.
    """
    if not token or len(token) > 100:
        return None
    booking = session.scalars(
        select(Booking).where(
            Booking.business_id == business.id, Booking.manage_token_hash == hash_token(token)
        )
    ).first()
    if booking is None or booking.end_at <= now:
        return None
    return booking


def cancel_by_client(session: Session, booking: Booking, now: datetime) -> Booking:
    """Cancel under the policy the client accepted; a late attempt changes nothing."""
    if booking.is_cancelled:
        raise AlreadyCancelled()
    if not booking.can_cancel(now):
        raise CancellationTooLate(booking.cancel_deadline())
    booking.status = CANCELLED
    booking.cancelled_at = now
    booking.cancelled_by = "client"
    session.flush()
    return booking
