"""Factories with sensible defaults; tests override only what they are about."""

from __future__ import annotations

from datetime import time

from sqlalchemy.orm import Session

from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, WorkingHours
from portal.policies.service import publish_policy, publish_terms


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
