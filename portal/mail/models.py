"""The outbox: every message a change causes, written in that change's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
#: Not sent because it no longer applies (a reminder of a cancelled booking).
DROPPED = "dropped"


class OutboxMessage(Base):
    """One message to deliver (e-mail today; ``channel`` leaves room for SMS or webhooks).

    ``payload_sealed`` is encrypted JSON, as it may hold a manage link or a
    reset link: what the worker needs to write the message. It is cleared once
    the message is sent. ``recipient`` and ``subject`` stay for the owner's
    failed-messages page.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_business_status", "business_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    kind: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300), default="")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    payload_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: While a worker is sending, no other worker claims the row before this instant.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A message that must go out once only (a provider's agenda of one day) names itself.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
