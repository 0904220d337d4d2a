"""SupportUser: a platform-level account, outside any business."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.accounts.models import Credentials
from portal.clock import utcnow
from portal.db import Base, UTCDateTime

SUPPORT_KIND = "support"


class SupportUser(Base):
    __tablename__ = "support_users"
    kind = SUPPORT_KIND

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The failed sign-in state of ``accounts.lockout``, as staff accounts keep it.
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    lock_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    is_locked = Credentials.is_locked

    #: A support user belongs to no business.
    business_id = None

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None
