"""Issuing and redeeming gift cards; switching the feature on and off.

Redemption runs inside the booking's write transaction. On SQLite the
request's ``BEGIN IMMEDIATE`` already excludes every other writer; on
PostgreSQL the card's row is locked (``FOR UPDATE``) before its balance is
read, so two bookings cannot both spend the same money.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.audit.service import Origin
from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.db import MAX_ID
from portal.features import GIFT_CARDS, is_on, set_feature
from portal.giftcards.models import ACTIVE, GiftCard, GiftCardRedemption
from portal.retention.service import retention_settings

#: No 0/O or 1/I: codes are read out and typed by hand.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
#: The most letters and digits a code has; the spaces and dashes people type do not count.
CODE_MAX_LENGTH = 32
CODE_PATTERN = re.compile(rf"^[A-Z0-9]{{6,{CODE_MAX_LENGTH}}}$")
MAX_VALUE_CENTS = 1_000_000
MAX_YEARS_VALID = 10


class GiftCardError(Exception):
    """A gift card action the rules refuse; the message is for the person acting."""


class FeatureConflict(GiftCardError):
    """Gift cards cannot be on together with clean history."""


def normalise_code(raw: str) -> str:
    """The code as stored: upper case, without spaces and dashes."""
    return re.sub(r"[\s-]+", "", raw or "").upper()


def display_code(code: str) -> str:
    """The code in groups of four, as printed on a card."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def switch_gift_cards(
    session: Session, business: Business, actor, on: bool, now: datetime, origin: Origin
) -> bool:
    """Switch gift cards on or off; refused while clean history is on."""
    if on and retention_settings(session, business.id).enabled:
        raise FeatureConflict(
            _(
                "Gift cards cannot be switched on while clean history is on: a gift card's "
                "balance is explained by the bookings it paid for, and clean history deletes "
                "old bookings. Switch clean history off on the Data page first."
            )
        )
    was_on = is_on(session, business.id, GIFT_CARDS)
    changed = set_feature(session, business.id, GIFT_CARDS, on, now)
    if changed:
        audit.record_changes(session, actor, now, origin, "features", {GIFT_CARDS: [was_on, on]})
    return changed


def issue_card(
    session: Session,
    business: Business,
    actor,
    value_cents: int,
    expires_on: date,
    now: datetime,
    origin: Origin,
    *,
    code: str = "",
    note: str = "",
) -> GiftCard:
    """A new card worth ``value_cents``; a code is generated unless one is given."""
    if not is_on(session, business.id, GIFT_CARDS):
        raise GiftCardError(_("Gift cards are off. Switch them on first."))
    if not 1 <= value_cents <= MAX_VALUE_CENTS:
        raise GiftCardError(_("A gift card is worth from 0.01 to 10,000.00."))
    today = business.local(now).date()
    if expires_on < today:
        raise GiftCardError(_("The expiry date has passed. Choose today or a later day."))
    if expires_on.year > today.year + MAX_YEARS_VALID:
        raise GiftCardError(
            _("A gift card may be valid for at most %(years)d years.", years=MAX_YEARS_VALID)
        )
    code = normalise_code(code) or new_code()
    if not CODE_PATTERN.match(code):
        raise GiftCardError(
            _(
                "A code has 6 to %(most)d letters and digits (spaces and dashes are fine).",
                most=CODE_MAX_LENGTH,
            )
        )
    if _find(session, business.id, code) is not None:
        raise GiftCardError(_("A gift card with this code exists already. Choose another code."))
    card = GiftCard(
        business_id=business.id,
        code=code,
        value_cents=value_cents,
        balance_cents=value_cents,
        expires_on=expires_on,
        status=ACTIVE,
        note=note.strip(),
        created_at=now,
    )
    session.add(card)
    session.flush()
    audit.record(
        session,
        audit.GIFT_CARD_ISSUED,
        now,
        business_id=business.id,
        actor=actor,
        origin=origin,
        card=card.id,
        value_cents=value_cents,
        expires_on=expires_on.isoformat(),
    )
    return card


def _find(session: Session, business_id: int, code: str, *, lock: bool = False):
    query = select(GiftCard).where(GiftCard.business_id == business_id, GiftCard.code == code)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def redeem(
    session: Session, business: Business, booking: Booking, raw_code: str, now: datetime
) -> GiftCardRedemption:
    """Pay for ``booking`` with the card, up to its balance; must run under the write lock."""
    if not is_on(session, business.id, GIFT_CARDS):
        raise GiftCardError(_("Gift cards are not accepted online at the moment."))
    code = normalise_code(raw_code)
    card = _find(session, business.id, code, lock=True) if CODE_PATTERN.match(code) else None
    if card is None or card.status != ACTIVE:
        raise GiftCardError(
            _("We do not know this gift card code. Please check it, or leave the field empty.")
        )
    if business.local(now).date() > card.expires_on:
        raise GiftCardError(
            _("This gift card expired on %(day)s.", day=card.expires_on.isoformat())
        )
    if card.balance_cents <= 0:
        raise GiftCardError(_("This gift card has no balance left."))
    if booking.price_cents <= 0:
        raise GiftCardError(_("This service is free: there is nothing to pay with a gift card."))
    amount = min(card.balance_cents, booking.price_cents)
    card.balance_cents -= amount
    redemption = GiftCardRedemption(
        business_id=business.id,
        gift_card_id=card.id,
        booking_id=booking.id,
        amount_cents=amount,
        created_at=now,
    )
    session.add(redemption)
    session.flush()
    audit.record(
        session,
        audit.GIFT_CARD_REDEEMED,
        now,
        business_id=business.id,
        actor_kind="anonymous",
        card=card.id,
        booking=booking.id,
        amount_cents=amount,
    )
    return redemption


def list_cards(session: Session, business_id: int) -> list[GiftCard]:
    return list(
        session.scalars(
            select(GiftCard)
            .where(GiftCard.business_id == business_id)
            .order_by(GiftCard.created_at.desc(), GiftCard.id.desc())
        )
    )


def find_card(session: Session, business_id: int, card_id: int) -> GiftCard | None:
    if not 0 < card_id <= MAX_ID:
        return None
    return session.scalars(
        select(GiftCard).where(GiftCard.id == card_id, GiftCard.business_id == business_id)
    ).first()


def redeemed_for(session: Session, booking_id: int) -> int:
    """Cents paid by gift card for the booking."""
    return session.scalar(
        select(func.coalesce(func.sum(GiftCardRedemption.amount_cents), 0)).where(
            GiftCardRedemption.booking_id == booking_id
        )
    )
