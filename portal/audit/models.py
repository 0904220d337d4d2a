"""AuditEvent: who did what, when, from where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_business_created", "business_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    #: "staff", "client", "system" or "anonymous".
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    #: The e-mail address the actor used, kept even if the account goes away.
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The seal of the business's previous event ("" for the first); see portal.audit.chain.
    prev_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: HMAC-SHA256 over this event's fields and ``prev_hash``: an edit or a gap breaks the chain.
    hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: Which configured key sealed it (``portal.audit.keys.key_id``); "" before keyed seals.
    key_id: Mapped[str] = mapped_column(String(16), default="", server_default="")


class AuditCheckpoint(Base):
    """Left by the audit retention purge: the chain now starts after ``last_hash``."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The hash of the last event removed; the first remaining event names it as prev_hash.
    last_hash: Mapped[str] = mapped_column(String(64))
    last_event_id: Mapped[int] = mapped_column(Integer)
    removed: Mapped[int] = mapped_column(Integer)
    #: HMAC-SHA256 over the fields above and the chain's previous checkpoint seal, so
    #: nobody without the key can pass removing a chain's first events off as a purge.
    mac: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: Which configured key sealed it; "" for checkpoints from before keyed seals.
    key_id: Mapped[str] = mapped_column(String(16), default="", server_default="")


class AuditWritePermit(Base):
    """One row: what SQLite's append-only triggers let the current transaction do.

    The retention purge (DELETE) and a re-sealing (UPDATE of the seal columns)
    set their flag and reset it inside their own transaction; PostgreSQL uses
    transaction-local settings instead (``portal.audit.chain._PERMITS``).
    """

    __tablename__ = "audit_write_permits"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    retention: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sealing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
