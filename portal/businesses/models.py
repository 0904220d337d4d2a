"""The Business model: one tenant and its booking settings."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Integer, String, Text
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
    #: New client bookings wait as "pending" until staff approve them.
    approve_bookings: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Future bookings one client e-mail, or one address, may hold (0: no limit).
    max_future_bookings_per_client: Mapped[int] = mapped_column(Integer, default=5)
    max_future_bookings_per_address: Mapped[int] = mapped_column(Integer, default=10)
    #: Block a client after this many late cancellation attempts or no-shows (0: never).
    auto_block_after: Mapped[int] = mapped_column(Integer, default=0)
    #: Origins allowed to frame the public pages, one per line ("https://example.com").
    embed_origins: Mapped[str] = mapped_column(Text, default="")
    #: Where replies to the business's e-mails go (Reply-To); blank: nowhere.
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    #: Client reminders, in hours before the appointment ("24", "48,2"); blank: none.
    reminder_hours: Mapped[str] = mapped_column(String(16), default="24")
    #: Minute of the local day the providers' daily agenda goes out; None: no agenda.
    agenda_minute: Mapped[int | None] = mapped_column(Integer)
    # The business as clients see it (every public page, e-mail and .ics; issue 14).
    #: Postal address, one line per line of the address; blank: none shown.
    address: Mapped[str] = mapped_column(Text, default="")
    #: Phone number as the owner writes it ("+49 30 1234567"); blank: none shown.
    phone: Mapped[str] = mapped_column(String(40), default="")
    #: The business's own site ("https://…"); blank: none.
    website: Mapped[str] = mapped_column(String(300), default="")
    #: Accent colour "#rrggbb" (contrast-checked when saved); blank: Portal's own.
    accent_color: Mapped[str] = mapped_column(String(7), default="")
    # What the booking form asks of a client.
    #: The phone field: "required", "optional" or "hidden".
    client_phone: Mapped[str] = mapped_column(String(10), default="required")
    #: Offer a notes field ("anything we should know?"), seen by staff only.
    client_notes: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Staff (not only the owner) may book outside the opening hours and minimum notice.
    staff_may_override: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def allowed_embed_origins(self) -> list[str]:
        return [line.strip() for line in self.embed_origins.splitlines() if line.strip()]

    def local(self, instant: datetime) -> datetime:
        """The instant as wall-clock time in the business's timezone."""
        return instant.astimezone(self.tz)
