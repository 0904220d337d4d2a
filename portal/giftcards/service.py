"""Issuing and redeeming gift cards; switching the feature on and off.

Redemption runs inside the booking's write transaction. On SQLite the
request's ``BEGIN IMMEDIATE`` already excludes every other writer; on
PostgreSQL the card's row is locked (``FOR UPDATE``) before its balance is
read, so two bookings cannot both spend the same money.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.audit.service import Origin
from portal.booking.models import DECLINED, Booking
from portal.businesses.models import Business
from portal.db import MAX_ID
from portal.features import GIFT_CARDS, is_on, set_feature
from portal.giftcards.models import (
    ACTIVE,
    FORFEIT,
    REFUND,
    REFUND_ALWAYS,
    REFUND_CHOICES,
    REFUND_IN_WINDOW,
    VOID,
    VOIDED,
    GiftCard,
    GiftCardEntry,
    GiftCardRedemption,
    GiftCardSettings,
)
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


class AlreadyVoid(GiftCardError):
    """The card was voided before."""


class ConfirmationNeeded(GiftCardError):
    """Switching off while cards hold money needs the owner's explicit confirmation."""

    def __init__(self, cards: list[GiftCard]):
        super().__init__(
            _(
                "Some gift cards still hold a balance. Read what happens to them and "
                "confirm to switch gift cards off."
            )
        )
        self.cards = cards


#: The most a void reason may say (``gift_card_entries.reason``).
REASON_MAX = 500


def normalise_code(raw: str) -> str:
    """The code as stored: upper case, without spaces and dashes."""
    return re.sub(r"[\s-]+", "", raw or "").upper()


def display_code(code: str) -> str:
    """The code in groups of four, as printed on a card."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def switch_gift_cards(
    session: Session,
    business: Business,
    actor,
    on: bool,
    now: datetime,
    origin: Origin,
    *,
    confirmed: bool = False,
) -> bool:
    """Switch gift cards on or off; refused while clean history is on.

    Switching off while cards hold a balance needs ``confirmed``: the
    balances stay recorded and count again once gift cards are back on.
    """
    if on and retention_settings(session, business.id).enabled:
        raise FeatureConflict(
            _(
                "Gift cards cannot be switched on while clean history is on: a gift card's "
                "balance is explained by the bookings it paid for, and clean history deletes "
                "old bookings. Switch clean history off on the Data page first."
            )
        )
    was_on = is_on(session, business.id, GIFT_CARDS)
    holding = cards_with_balance(session, business, now) if was_on and not on else []
    if holding and not confirmed:
        raise ConfirmationNeeded(holding)
    changed = set_feature(session, business.id, GIFT_CARDS, on, now)
    if changed:
        details = {}
        if holding:
            details["cards_with_balance"] = [
                {"card": card.id, "balance_cents": card.balance_cents} for card in holding
            ]
        audit.record(
            session,
            audit.SETTINGS_CHANGED,
            now,
            business_id=business.id,
            actor=actor,
            origin=origin,
            area="features",
            changes={GIFT_CARDS: [was_on, on]},
            **details,
        )
    return changed


def cards_with_balance(session: Session, business: Business, now: datetime) -> list[GiftCard]:
    """Active, unexpired cards that still hold money, oldest first."""
    return list(
        session.scalars(
            select(GiftCard)
            .where(
                GiftCard.business_id == business.id,
                GiftCard.status == ACTIVE,
                GiftCard.balance_cents > 0,
                GiftCard.expires_on >= business.local(now).date(),
            )
            .order_by(GiftCard.created_at, GiftCard.id)
        )
    )


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
    if card is None:
        raise GiftCardError(
            _("We do not know this gift card code. Please check it, or leave the field empty.")
        )
    if card.status == VOID:
        raise GiftCardError(
            _("This gift card has been cancelled by the business and cannot be used.")
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


# Settings ----------------------------------------------------------------------


def gift_card_settings(session: Session, business_id: int) -> GiftCardSettings:
    """The business's row, or the defaults (not added to the session) when it has none."""
    found = session.get(GiftCardSettings, business_id)
    return found or GiftCardSettings(business_id=business_id, refund_on_cancel=REFUND_IN_WINDOW)


def set_refund_rule(
    session: Session, business: Business, actor, rule: str, now: datetime, origin: Origin
) -> bool:
    """Choose what a cancellation gives back to the card; audited."""
    if rule not in REFUND_CHOICES:
        raise ValueError(rule)
    settings = session.get(GiftCardSettings, business.id)
    if settings is None:
        settings = GiftCardSettings(business_id=business.id, refund_on_cancel=REFUND_IN_WINDOW)
        session.add(settings)
    changes = audit.apply_changes(settings, {"refund_on_cancel": rule}, ("refund_on_cancel",))
    session.flush()
    audit.record_changes(session, actor, now, origin, "gift_cards", changes)
    return bool(changes)


# Void ----------------------------------------------------------------------------


def void_card(
    session: Session,
    business: Business,
    card: GiftCard,
    actor,
    reason: str,
    now: datetime,
    origin: Origin,
) -> GiftCardEntry:
    """Void the card: it can no longer be used and its balance is forfeited."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise GiftCardError(_("Give a reason of 1 to %(most)d characters.", most=REASON_MAX))
    card = _lock(session, business.id, card.id)
    if card.status == VOID:
        raise AlreadyVoid(_("This gift card was voided before."))
    forfeited = card.balance_cents
    card.status = VOID
    card.balance_cents = 0
    entry = GiftCardEntry(
        business_id=business.id,
        gift_card_id=card.id,
        kind=VOIDED,
        amount_cents=forfeited,
        reason=reason,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        audit.GIFT_CARD_VOIDED,
        now,
        business_id=business.id,
        actor=actor,
        origin=origin,
        card=card.id,
        reason=reason,
        forfeited_cents=forfeited,
    )
    return entry


def _lock(session: Session, business_id: int, card_id: int) -> GiftCard:
    """The card's row, locked on PostgreSQL (SQLite requests already hold the write lock)."""
    return session.scalars(
        select(GiftCard)
        .where(GiftCard.id == card_id, GiftCard.business_id == business_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


# Cancellation ----------------------------------------------------------------------


def return_on_cancel(session: Session, booking: Booking, now: datetime) -> list[GiftCardEntry]:
    """Settle what gift cards paid for ``booking``, which was just cancelled or declined.

    Each redemption is given back to its card (a ``refund``) or kept by the
    business (a ``forfeit``): kept when the card is void, or when the
    owner's rule says so for this cancellation. A declined request always
    gets its money back: the client never had the appointment. "Inside the
    window" means before the deadline of the policy the client accepted
    (``Booking.cancel_deadline``). Each redemption is settled once.
    """
    redemptions = session.scalars(
        select(GiftCardRedemption)
        .where(
            GiftCardRedemption.business_id == booking.business_id,
            GiftCardRedemption.booking_id == booking.id,
            ~select(GiftCardEntry.id)
            .where(GiftCardEntry.redemption_id == GiftCardRedemption.id)
            .exists(),
        )
        .order_by(GiftCardRedemption.id)
    ).all()
    if not redemptions:
        return []
    rule = gift_card_settings(session, booking.business_id).refund_on_cancel
    deadline = booking.cancel_deadline()
    cancelled_at = booking.cancelled_at or booking.decided_at or now
    in_window = deadline is not None and cancelled_at < deadline
    give_back = (
        booking.status == DECLINED
        or rule == REFUND_ALWAYS
        or (rule == REFUND_IN_WINDOW and in_window)
    )
    entries = []
    for redemption in redemptions:
        card = _lock(session, booking.business_id, redemption.gift_card_id)
        if card.status == VOID:
            kind, why = FORFEIT, "card_void"
        elif give_back:
            kind, why = REFUND, rule
            card.balance_cents += redemption.amount_cents
        else:
            kind, why = FORFEIT, "late" if rule == REFUND_IN_WINDOW else rule
        entry = GiftCardEntry(
            business_id=booking.business_id,
            gift_card_id=card.id,
            redemption_id=redemption.id,
            kind=kind,
            amount_cents=redemption.amount_cents,
            reason=why,
            created_at=now,
        )
        session.add(entry)
        entries.append(entry)
        audit.record(
            session,
            audit.GIFT_CARD_REFUNDED if kind == REFUND else audit.GIFT_CARD_FORFEITED,
            now,
            business_id=booking.business_id,
            actor_kind="system",
            card=card.id,
            booking=booking.id,
            amount_cents=redemption.amount_cents,
            why=why,
        )
    session.flush()
    return entries


# History ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryLine:
    """One change of a card's balance; ``change_cents`` is signed, 0 for a kept amount."""

    kind: str  # issued, redeemed, refund, forfeit, void
    at: datetime
    amount_cents: int
    change_cents: int
    balance_cents: int
    booking_id: int | None = None
    reason: str = ""


def card_history(session: Session, card: GiftCard) -> list[HistoryLine]:
    """Every issue, redemption, refund, forfeit and void of the card, oldest first."""
    redemptions = session.scalars(
        select(GiftCardRedemption).where(
            GiftCardRedemption.business_id == card.business_id,
            GiftCardRedemption.gift_card_id == card.id,
        )
    ).all()
    booking_of = {r.id: r.booking_id for r in redemptions}
    entries = session.scalars(
        select(GiftCardEntry).where(
            GiftCardEntry.business_id == card.business_id, GiftCardEntry.gift_card_id == card.id
        )
    ).all()
    # (when, order within an instant, id, kind, amount, change, booking, reason)
    raw = [(card.created_at, 0, card.id, "issued", card.value_cents, card.value_cents, None, "")]
    raw += [
        (r.created_at, 1, r.id, "redeemed", r.amount_cents, -r.amount_cents, r.booking_id, "")
        for r in redemptions
    ]
    for e in entries:
        change = {REFUND: e.amount_cents, FORFEIT: 0, VOIDED: -e.amount_cents}[e.kind]
        booking = booking_of.get(e.redemption_id)
        raw.append((e.created_at, 2, e.id, e.kind, e.amount_cents, change, booking, e.reason))
    lines, balance = [], 0
    for at, _order, _id, kind, amount, change, booking, reason in sorted(raw, key=lambda r: r[:3]):
        balance += change
        lines.append(HistoryLine(kind, at, amount, change, balance, booking, reason))
    return lines
