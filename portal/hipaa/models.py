"""The owner's compliance switches: HIPAA mode, support access, audit retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime

#: Six years, the HIPAA documentation retention period (45 CFR 164.316(b)(2)).
DEFAULT_AUDIT_RETENTION_DAYS = 6 * 365 + 2
HIPAA_IDLE_TIMEOUT_MINUTES = 15


class ComplianceSettings(Base):
    __tablename__ = "compliance_settings"
    __table_args__ = (
        CheckConstraint("audit_retention_days BETWEEN 365 AND 36500", name="audit_retention"),
    )

    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), primary_key=True)
    hipaa_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    hipaa_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Platform support may open the staff area (never while HIPAA mode is on).
    support_access: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    audit_retention_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_AUDIT_RETENTION_DAYS, server_default="2192"
    )

    @classmethod
    def defaults(cls, business_id: int) -> ComplianceSettings:
        return cls(
            business_id=business_id,
            hipaa_mode=False,
            support_access=True,
            audit_retention_days=DEFAULT_AUDIT_RETENTION_DAYS,
        )

    @property
    def support_allowed(self) -> bool:
        return self.support_access and not self.hipaa_mode
