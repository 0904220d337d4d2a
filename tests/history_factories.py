"""Bookings placed directly in the database, at any time, for history tests."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from portal.booking.models import Booking, BookingConsent, BookingEvent
from portal.clients.models import Client
from portal.features import GIFT_CARDS, set_feature
from portal.retention.models import RetentionSettings


def make_client(session: Session, business, **overrides) -> Client:
    values = dict(
        business_id=business.id,
        name="Clara Client",
        email=f"clara-{secrets.token_hex(3)}@example.com",
        phone="+49 30 5550101",
    )
    values.update(overrides)
    client = Client(**values)
    session.add(client)
    session.flush()
    return client


def make_ended_booking(
    session: Session,
    salon,
    client: Client,
    end_at: datetime,
    *,
    consent: bool = True,
    provider_id: int | None = None,
) -> Booking:
    """A 30-minute booking that ended at ``end_at``, with a terms consent and an event."""
    start_at = end_at - timedelta(minutes=30)
    booking = Booking(
        business_id=salon.business.id,
        client_id=client.id,
        service_id=salon.service.id,
        provider_id=provider_id or salon.provider.id,
        start_at=start_at,
        end_at=end_at,
        occupied_until=end_at,
        status="confirmed",
        price_cents=3000,
        manage_token_hash=secrets.token_hex(32),
        created_at=start_at - timedelta(days=1),
        ip_address="203.0.113.7",
    )
    session.add(booking)
    session.flush()
    if consent:
        from portal.policies.service import current_terms

        terms = current_terms(session, salon.business)
        session.add(
            BookingConsent(
                booking_id=booking.id,
                kind="terms",
                terms_version_id=terms.id,
                accepted_at=booking.created_at,
                ip_address="203.0.113.7",
            )
        )
    session.add(
        BookingEvent(
            business_id=booking.business_id,
            booking_id=booking.id,
            client_id=client.id,
            kind="no_show",
            created_at=end_at,
        )
    )
    session.flush()
    return booking


def enable_clean_history(
    session: Session, business, amount: int = 30, unit: str = "days", orphans: bool = False
) -> RetentionSettings:
    settings = RetentionSettings(
        business_id=business.id,
        enabled=True,
        period_amount=amount,
        period_unit=unit,
        delete_orphan_clients=orphans,
    )
    session.add(settings)
    session.flush()
    return settings


def enable_gift_cards(session: Session, owner_of, now: datetime) -> None:
    """Switch gift cards on at the business of ``owner_of`` (anything with a business_id)."""
    business_id = getattr(owner_of, "business_id", None) or owner_of.id
    set_feature(session, business_id, GIFT_CARDS, True, now)
