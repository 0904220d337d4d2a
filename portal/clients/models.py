"""The business's clients: who books, how to reach them, whether they may book online."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime


class Client(Base):
    __tablename__ = "clients"
    # NULL e-mails never collide: many clients may have none (walk-ins, phone clients).
    __table_args__ = (UniqueConstraint("business_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: None for a client staff booked without an address: such a client gets no e-mail.
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocked_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Staff's internal note on the client (never shown to the client nor e-mailed).
    staff_notes: Mapped[str] = mapped_column(Text, default="")
