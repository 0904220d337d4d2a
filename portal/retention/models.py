"""The owner's clean history setting."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.booking.models import BookingEvent
from portal.db import Base, UTCDateTime

DAYS = "days"
MONTHS = "months"

# Deleting bookings deletes their events; without this index every deleted
# booking would scan the whole events table.
Index("ix_booking_events_booking_id", BookingEvent.booking_id)


class RetentionSettings(Base):
    """Whether and after how long a business's ended bookings are deleted."""

    __tablename__ = "retention_settings"
    __table_args__ = (
        CheckConstraint("period_unit IN ('days', 'months')", name="period_unit"),
        CheckConstraint("period_amount >= 1", name="period_amount"),
    )

    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    period_amount: Mapped[int] = mapped_column(Integer, default=24)
    period_unit: Mapped[str] = mapped_column(String(8), default=MONTHS)
    #: Also delete clients left with no bookings and no account.
    delete_orphan_clients: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_purge_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
