"""The audit hash chain: each event carries the hash of the business's previous one.

One chain per business (events without a business, such as sign-in attempts
for unknown addresses, form the platform chain). Per business, because the
owner reads, exports and purges their own trail, and a business's chain
verifies without the others. A hash is SHA-256 over a canonical JSON of the
event's fields and ``prev_hash``: editing a row breaks its hash, removing one
breaks the next row's ``prev_hash``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from portal.audit.models import AuditCheckpoint, AuditEvent

#: First key of the PostgreSQL advisory lock that serialises appends to a chain.
ADVISORY_LOCK_CLASS = 0x5A0D


def _scope(business_id: int | None):
    if business_id is None:
        return AuditEvent.business_id.is_(None)
    return AuditEvent.business_id == business_id


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: AuditEvent) -> str:
    """SHA-256 of the event's recorded fields and ``prev_hash``."""
    payload = {
        "business_id": event.business_id,
        "created_at": _instant(event.created_at),
        "kind": event.kind,
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label or "",
        "ip_address": event.ip_address or "",
        "user_agent": event.user_agent or "",
        "details": event.details or {},
        "prev_hash": event.prev_hash or "",
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def lock_chain(session: Session, business_id: int | None) -> None:
    """Serialise appends to one chain until the transaction ends.

    On SQLite the request's ``BEGIN IMMEDIATE`` already holds the write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:kind, :key)"),
            {"kind": ADVISORY_LOCK_CLASS, "key": business_id or 0},
        )


def last_hash(session: Session, business_id: int | None) -> str:
    """The hash the next event must name: the last event's, or the last checkpoint's."""
    latest = session.scalars(
        select(AuditEvent.hash).where(_scope(business_id)).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    if latest is not None:
        return latest
    return _checkpoint_hash(session, business_id)


def _checkpoint_hash(session: Session, business_id: int | None) -> str:
    query = select(AuditCheckpoint.last_hash).order_by(AuditCheckpoint.id.desc()).limit(1)
    query = query.where(
        AuditCheckpoint.business_id.is_(None)
        if business_id is None
        else AuditCheckpoint.business_id == business_id
    )
    return session.scalars(query).first() or ""


def seal(session: Session, event: AuditEvent) -> None:
    """Link ``event`` to its chain and compute its hash (before it is inserted)."""
    lock_chain(session, event.business_id)
    # Flush first so events added earlier in this transaction are seen.
    session.flush()
    event.prev_hash = last_hash(session, event.business_id)
    event.details = json.loads(json.dumps(event.details or {}, default=str))
    event.hash = event_hash(event)


@dataclass(frozen=True)
class Break:
    """Where a chain stops verifying."""

    event_id: int
    reason: str

    def __str__(self) -> str:
        return f"audit event {self.event_id}: {self.reason}"


def verify(session: Session, business_id: int | None) -> tuple[int, Break | None]:
    """Walk one chain from its first remaining event; return (events checked, first break)."""
    expected = _checkpoint_hash(session, business_id)
    checked = 0
    events = session.scalars(select(AuditEvent).where(_scope(business_id)).order_by(AuditEvent.id))
    for event in events:
        if checked == 0 and event.hash == "" and event.prev_hash == "":
            continue  # recorded before the chain existed (older installations)
        if event.prev_hash != expected:
            return checked, Break(event.id, "the previous event is missing or was changed")
        if event_hash(event) != event.hash:
            return checked, Break(event.id, "its contents were changed after it was recorded")
        expected = event.hash
        checked += 1
    return checked, None


def chains(session: Session) -> list[int | None]:
    """Every business id that has audit events (None for the platform chain)."""
    return list(session.scalars(select(AuditEvent.business_id).distinct()))


def purge_before(session: Session, business_id: int | None, cutoff: datetime, now: datetime) -> int:
    """Remove a chain's events older than ``cutoff`` and leave a checkpoint; return how many.

    The only code path that deletes audit events. The caller commits.
    """
    lock_chain(session, business_id)
    old = list(
        session.scalars(
            select(AuditEvent)
            .where(_scope(business_id), AuditEvent.created_at < cutoff)
            .order_by(AuditEvent.id)
        )
    )
    if not old:
        return 0
    last = old[-1]
    session.add(
        AuditCheckpoint(
            business_id=business_id,
            created_at=now,
            last_hash=last.hash,
            last_event_id=last.id,
            removed=len(old),
        )
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL portal.audit_retention = 'on'"))
    session.execute(delete(AuditEvent).where(_scope(business_id), AuditEvent.id <= last.id))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL portal.audit_retention = 'off'"))
    session.flush()
    return len(old)


def count_before(session: Session, business_id: int | None, cutoff: datetime) -> int:
    from sqlalchemy import func

    return session.scalar(
        select(func.count(AuditEvent.id)).where(_scope(business_id), AuditEvent.created_at < cutoff)
    )
