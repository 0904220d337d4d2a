"""The Business model: one tenant and its booking settings."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime


class Business(Base):
    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=120)
    max_days_ahead: Mapped[int] = mapped_column(Integer, default=60)
    slot_step_minutes: Mapped[int] = mapped_column(Integer, default=15)
    terms_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    cancellation_policy_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, instant: datetime) -> datetime:
        """The instant as wall-clock time in the business's timezone."""
        return instant.astimezone(self.tz)
