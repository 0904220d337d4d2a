"""Factories with sensible defaults; tests override only what they are about."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.booking.models import CONFIRMED, Booking, BookingConsent, BookingEvent
from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, WorkingHours
from portal.clients.models import Client
from portal.features import GIFT_CARDS, set_feature
from portal.giftcards.models import GiftCard, GiftCardRedemption
from portal.policies.service import current_terms, publish_policy, publish_terms
from portal.retention.models import RetentionSettings

#: What a client types into the booking form.
DETAILS = {"name": "Mia Example", "email": "mia@example.com", "phone": "+49 30 1234567"}
#: Both boxes of the booking form ticked: the terms and the cancellation policy.
CONSENTS = {"accept_terms": "y", "accept_policy": "y"}


def make_business(session: Session, **overrides) -> Business:
    values = dict(
        slug="salon",
        name="Salon Test",
        timezone="Europe/Berlin",
        locale="en",
        min_notice_minutes=60,
        max_days_ahead=30,
        slot_step_minutes=30,
        terms_enabled=False,
        cancellation_policy_enabled=False,
    )
    values.update(overrides)
    business = Business(**values)
    session.add(business)
    session.flush()
    return business


def make_service(session: Session, business: Business, **overrides) -> Service:
    values = dict(
        business_id=business.id,
        name="Haircut",
        duration_minutes=30,
        price_cents=3000,
        buffer_minutes=0,
    )
    values.update(overrides)
    service = Service(**values)
    session.add(service)
    session.flush()
    return service


def make_provider(
    session: Session,
    business: Business,
    services: list[Service],
    *,
    name: str = "Alex",
    hours: dict[int, list[tuple[time, time]]] | None = None,
    days_off=(),
) -> Provider:
    """A provider working ``hours`` (weekday -> stretches); default 09:00-17:00 every day."""
    provider = Provider(business_id=business.id, name=name)
    provider.services = list(services)
    if hours is None:
        hours = {weekday: [(time(9), time(17))] for weekday in range(7)}
    for weekday, stretches in hours.items():
        for starts, ends in stretches:
            provider.working_hours.append(WorkingHours(weekday=weekday, starts=starts, ends=ends))
    for day in days_off:
        provider.days_off.append(DayOff(day=day))
    session.add(provider)
    session.flush()
    return provider


def enable_terms(session: Session, business: Business, body: str = "Be on time.") -> None:
    business.terms_enabled = True
    publish_terms(session, business, body)


def enable_policy(
    session: Session,
    business: Business,
    *,
    mode: str = "until",
    notice_minutes: int = 24 * 60,
    summary: str = "Cancel free of charge until 24 hours before.",
):
    business.cancellation_policy_enabled = True
    return publish_policy(
        session,
        business,
        summary=summary,
        body="Prepayment: none. Refunds: none needed. Rebooking: any time.",
        cancel_mode=mode,
        cancel_notice_minutes=notice_minutes,
    )


def make_client(session: Session, business: Business, **overrides) -> Client:
    """A client of ``business``; a fresh address each time unless ``email`` is given."""
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


def client_named(session: Session, business: Business, name: str) -> Client:
    """The client of ``business`` called ``name`` (``Mia Example`` is mia.example@example.com)."""
    address = name.lower().replace(" ", ".") + "@example.com"
    found = session.scalars(
        select(Client).where(Client.business_id == business.id, Client.email == address)
    ).first()
    return found or make_client(session, business, name=name, email=address, phone="")


def make_booking(
    session: Session,
    *,
    business: Business,
    service: Service,
    provider: Provider,
    start: datetime,
    client: Client | None = None,
    name: str = "Mia Example",
    **overrides,
) -> Booking:
    """A booking row stored as it is, past the booking rules (any instant, past ones too).

    It lasts the service's duration and blocks its buffer after; ``client`` defaults to
    the client called ``name``; ``overrides`` set any other column (``status``, ...).
    The ``make_booking`` fixture of ``conftest.py`` fills in the salon and commits.
    """
    end = start + timedelta(minutes=service.duration_minutes)
    values = dict(
        business_id=business.id,
        client=client or client_named(session, business, name),
        service_id=service.id,
        provider_id=provider.id,
        start_at=start,
        end_at=end,
        occupied_until=end + timedelta(minutes=service.buffer_minutes),
        status=CONFIRMED,
        price_cents=service.price_cents,
        manage_token_hash=secrets.token_hex(32),
    )
    values.update(overrides)
    booking = Booking(**values)
    session.add(booking)
    session.flush()
    return booking


def make_ended_booking(
    session: Session,
    salon,
    client: Client,
    end_at: datetime,
    *,
    consent: bool = True,
    provider_id: int | None = None,
) -> Booking:
    """A 30-minute booking of the salon that ended at ``end_at``, with its history.

    Booked a day ahead from 203.0.113.7, with a terms consent and a no-show event:
    something for the retention purge and the data-rights export to find.
    """
    start_at = end_at - timedelta(minutes=30)
    booking = make_booking(
        session,
        business=salon.business,
        service=salon.service,
        provider=session.get(Provider, provider_id) if provider_id else salon.provider,
        start=start_at,
        client=client,
        end_at=end_at,
        occupied_until=end_at,
        price_cents=3000,
        created_at=start_at - timedelta(days=1),
        ip_address="203.0.113.7",
    )
    if consent:
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


def redeem_gift_card(
    session: Session, booking: Booking, code: str, *, created_at: datetime
) -> GiftCard:
    """A €50 gift card of the booking's business with €30 of it paid for ``booking``."""
    card = GiftCard(
        business_id=booking.business_id,
        code=code,
        value_cents=5000,
        balance_cents=2000,
        expires_on=created_at.date().replace(month=12, day=31),
        status="active",
        note="",
        created_at=created_at,
    )
    session.add(card)
    session.flush()
    session.add(
        GiftCardRedemption(
            business_id=booking.business_id,
            gift_card_id=card.id,
            booking_id=booking.id,
            amount_cents=3000,
            created_at=created_at,
        )
    )
    return card
