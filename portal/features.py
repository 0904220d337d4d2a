"""The feature registry: optional features an owner switches on, and what they need.

A feature that ``needs_intact_history`` keeps records (balances, credits)
that must stay explainable from the bookings they were spent on, so it
cannot be on together with clean history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, UTCDateTime
from portal.web.lazy_text import lazy_text as _l

GIFT_CARDS = "gift_cards"
MEMBERSHIPS = "memberships"
PACKAGES = "packages"


@dataclass(frozen=True)
class Feature:
    name: str
    title: str
    available: bool
    needs_intact_history: bool


REGISTRY: dict[str, Feature] = {
    GIFT_CARDS: Feature(GIFT_CARDS, _l("Gift cards"), available=True, needs_intact_history=True),
    MEMBERSHIPS: Feature(
        MEMBERSHIPS, _l("Memberships"), available=False, needs_intact_history=True
    ),
    PACKAGES: Feature(PACKAGES, _l("Packages"), available=False, needs_intact_history=True),
}


class BusinessFeature(Base):
    """A feature switched on at one business (no row: off)."""

    __tablename__ = "business_features"

    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), primary_key=True)
    feature: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime)


def is_on(session: Session, business_id: int, name: str) -> bool:
    """Whether feature ``name`` is switched on at the business."""
    return session.get(BusinessFeature, (business_id, name)) is not None


def enabled_features(session: Session, business_id: int) -> list[Feature]:
    names = session.scalars(
        select(BusinessFeature.feature).where(BusinessFeature.business_id == business_id)
    )
    return [REGISTRY[name] for name in names if name in REGISTRY]


def history_features_on(session: Session, business_id: int) -> list[Feature]:
    """Switched-on features that need the booking history kept."""
    return [f for f in enabled_features(session, business_id) if f.needs_intact_history]


def set_feature(session: Session, business_id: int, name: str, on: bool, now: datetime) -> bool:
    """Switch the feature; return whether anything changed. Callers check the rules first."""
    if name not in REGISTRY or not REGISTRY[name].available:
        raise ValueError(f"{name} is not an available feature")
    current = session.get(BusinessFeature, (business_id, name))
    if on and current is None:
        session.add(BusinessFeature(business_id=business_id, feature=name, enabled_at=now))
    elif not on and current is not None:
        session.execute(
            delete(BusinessFeature).where(
                BusinessFeature.business_id == business_id, BusinessFeature.feature == name
            )
        )
    else:
        return False
    session.flush()
    return True
