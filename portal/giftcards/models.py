"""Gift cards and what was paid with them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime

ACTIVE = "active"
VOID = "void"


class GiftCard(Base):
    """A card worth ``balance_cents`` until the end of ``expires_on`` (business time).

    The code is stored normalised (upper case, no spaces or dashes) so that
    staff can read it out again; the unique index makes it one card per code.
    """

    __tablename__ = "gift_cards"
    __table_args__ = (
        UniqueConstraint("business_id", "code"),
        CheckConstraint("balance_cents >= 0 AND balance_cents <= value_cents", name="balance"),
        CheckConstraint("status IN ('active', 'void')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    code: Mapped[str] = mapped_column(String(32))
    value_cents: Mapped[int] = mapped_column(Integer)
    balance_cents: Mapped[int] = mapped_column(Integer)
    expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default=ACTIVE)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    redemptions: Mapped[list[GiftCardRedemption]] = relationship(
        back_populates="card", order_by="GiftCardRedemption.id"
    )


class GiftCardRedemption(Base):
    """Part of a card's balance spent on one booking."""

    __tablename__ = "gift_card_redemptions"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    gift_card_id: Mapped[int] = mapped_column(ForeignKey("gift_cards.id"), index=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    card: Mapped[GiftCard] = relationship(back_populates="redemptions")


#: What a cancellation gives back to the card (``GiftCardSettings.refund_on_cancel``).
REFUND_ALWAYS = "always"
REFUND_IN_WINDOW = "window"
REFUND_NEVER = "never"
REFUND_CHOICES = (REFUND_ALWAYS, REFUND_IN_WINDOW, REFUND_NEVER)

#: Ledger entries besides issue and redemption.
REFUND = "refund"
VOIDED = "void"
FORFEIT = "forfeit"


class GiftCardSettings(Base):
    """The owner's gift card rules; a business without a row has the defaults."""

    __tablename__ = "gift_card_settings"
    __table_args__ = (
        CheckConstraint(
            "refund_on_cancel IN ('always', 'window', 'never')", name="refund_on_cancel"
        ),
    )

    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), primary_key=True)
    refund_on_cancel: Mapped[str] = mapped_column(String(8), default=REFUND_IN_WINDOW)


class GiftCardEntry(Base):
    """A change of a card's balance other than issue and redemption.

    ``refund``: a redemption given back when its booking was cancelled.
    ``forfeit``: a redemption whose booking was cancelled, kept by the business
    (the rule said no refund, or the card was void). ``void``: the card was
    voided; ``amount_cents`` is the balance it forfeited. A redemption has at
    most one entry (the unique constraint), so it is never given back twice.
    """

    __tablename__ = "gift_card_entries"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount"),
        CheckConstraint("kind IN ('refund', 'void', 'forfeit')", name="kind"),
        UniqueConstraint("redemption_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    gift_card_id: Mapped[int] = mapped_column(ForeignKey("gift_cards.id"), index=True)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("gift_card_redemptions.id"))
    kind: Mapped[str] = mapped_column(String(8))
    amount_cents: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    redemption: Mapped[GiftCardRedemption | None] = relationship()
