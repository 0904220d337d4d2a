"""The audit chain: each event is sealed with a keyed MAC over its fields and the previous seal.

One chain per business (events without a business, such as sign-in attempts
for unknown addresses, form the platform chain). Per business, because the
owner reads, exports and purges their own trail, and a business's chain
verifies without the others.

A seal is HMAC-SHA256, under a key derived from the encryption key material
(``portal.audit.keys``), of a canonical JSON of the event's fields and
``prev_hash``: editing a row breaks its seal, removing one breaks the next
row's ``prev_hash``, and someone who can write the database but does not hold
the key cannot re-seal what they changed. What a MAC cannot show, events
removed from the end, the anchor shows (``portal.audit.anchor``): the chain's
head written outside the database, which ``verify`` compares with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session

from portal.audit.keys import Keyring, setup_for
from portal.audit.models import AuditCheckpoint, AuditEvent

#: First key of the PostgreSQL advisory lock that serialises appends to a chain.
ADVISORY_LOCK_CLASS = 0x5A0D

#: The fields a seal covers, besides ``prev_hash``; the triggers keep them unchanged.
SEALED_FIELDS = (
    "business_id",
    "created_at",
    "kind",
    "actor_kind",
    "actor_id",
    "actor_label",
    "ip_address",
    "user_agent",
    "details",
)


def _scope(business_id: int | None, column=AuditEvent.business_id):
    return column.is_(None) if business_id is None else column == business_id


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(event, prev_hash: str) -> bytes:
    """The bytes a seal covers; ``event`` is an AuditEvent or a row with its columns."""
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
        "prev_hash": prev_hash or "",
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_mac(event, key: bytes, prev_hash: str | None = None) -> str:
    """HMAC-SHA256 of the event's recorded fields and ``prev_hash`` under ``key``."""
    chained = event.prev_hash if prev_hash is None else prev_hash
    return hmac.new(key, _canonical(event, chained), hashlib.sha256).hexdigest()


def checkpoint_mac(checkpoint, key: bytes, prev_mac: str) -> str:
    """HMAC-SHA256 of a retention checkpoint's fields and the chain's previous checkpoint seal."""
    payload = {
        "record": "retention checkpoint",
        "business_id": checkpoint.business_id,
        "created_at": _instant(checkpoint.created_at),
        "last_event_id": checkpoint.last_event_id,
        "last_hash": checkpoint.last_hash,
        "removed": checkpoint.removed,
        "prev_mac": prev_mac,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _checkpoints(session: Session, business_id: int | None) -> list[AuditCheckpoint]:
    return list(
        session.scalars(
            select(AuditCheckpoint)
            .where(_scope(business_id, AuditCheckpoint.business_id))
            .order_by(AuditCheckpoint.id)
        )
    )


def _checkpoint_fault(checkpoint: AuditCheckpoint, prev_mac: str, keyring: Keyring) -> Break | None:
    label = f"retention checkpoint {checkpoint.id}"
    if not checkpoint.mac:
        return Break(
            None,
            f"{label} is not sealed (it was left before the chain was keyed: "
            "run portal audit seal-legacy)",
        )
    key = keyring.get(checkpoint.key_id)
    if key is None:
        return Break(None, f"{label} names key {checkpoint.key_id}, which is not configured")
    if not hmac.compare_digest(checkpoint_mac(checkpoint, key, prev_mac), checkpoint.mac):
        return Break(
            None,
            f"{label} was changed or forged (events removed from the start of the log "
            "without the retention purge?)",
        )
    return None


def _checkpoints_fault(session: Session, business_id: int | None, keyring: Keyring) -> Break | None:
    """The first retention checkpoint of the chain whose seal does not check out."""
    prev_mac = ""
    for checkpoint in _checkpoints(session, business_id):
        fault = _checkpoint_fault(checkpoint, prev_mac, keyring)
        if fault is not None:
            return fault
        prev_mac = checkpoint.mac
    return None


def legacy_hash(event) -> str:
    """The unkeyed SHA-256 seal events had before the chain was keyed (revision a9c1e0000016)."""
    return hashlib.sha256(_canonical(event, event.prev_hash)).hexdigest()


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
    """The seal the next event must name: the last event's, or the last checkpoint's."""
    latest = session.scalars(
        select(AuditEvent.hash).where(_scope(business_id)).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    if latest is not None:
        return latest
    return _checkpoint(session, business_id)[0]


def _checkpoint(session: Session, business_id: int | None) -> tuple[str, int, int]:
    """(last hash, last removed event id, events removed) of the chain's retention checkpoints."""
    scope = _scope(business_id, AuditCheckpoint.business_id)
    latest = session.execute(
        select(AuditCheckpoint.last_hash, AuditCheckpoint.last_event_id)
        .where(scope)
        .order_by(AuditCheckpoint.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return "", 0, 0
    removed = session.scalar(select(func.sum(AuditCheckpoint.removed)).where(scope)) or 0
    return latest[0], latest[1], int(removed)


def seal(session: Session, event: AuditEvent) -> None:
    """Link ``event`` to its chain and seal it with the newest key (before it is inserted)."""
    identifier, key = setup_for(session).keyring.newest
    lock_chain(session, event.business_id)
    # Flush first so events added earlier in this transaction are seen.
    session.flush()
    event.prev_hash = last_hash(session, event.business_id)
    event.details = json.loads(json.dumps(event.details or {}, default=str))
    event.key_id = identifier
    event.hash = event_mac(event, key)


@dataclass(frozen=True)
class Break:
    """Where a chain stops verifying."""

    event_id: int | None
    reason: str

    def __str__(self) -> str:
        if self.event_id is None:
            return self.reason
        return f"audit event {self.event_id}: {self.reason}"


@dataclass(frozen=True)
class Head:
    """A chain's end: how many events it ever recorded, and the last one's id and seal."""

    business_id: int | None
    events: int
    last_event_id: int | None
    last_mac: str


@dataclass(frozen=True)
class Report:
    checked: int
    fault: Break | None
    head: Head


def verify(
    session: Session,
    business_id: int | None,
    keyring: Keyring | None = None,
    *,
    anchor: Head | None = None,
    since_anchor: bool = False,
) -> Report:
    """Walk one chain from its first remaining event under the configured keys.

    With ``anchor`` (the head last written outside the database), also report
    events removed from the end and an anchored event sealed anew. With
    ``since_anchor`` only the events after the anchored one are walked (the
    periodic anchoring job); ``checked`` then counts those.
    """
    keyring = keyring or setup_for(session).keyring
    sealed_checkpoints = _checkpoints_fault(session, business_id, keyring)
    if sealed_checkpoints is not None:
        return Report(0, sealed_checkpoints, Head(business_id, 0, None, ""))
    expected, purged_up_to, removed = _checkpoint(session, business_id)
    checked, last_id, fault, anchored_seen = 0, None, None, False
    query = select(AuditEvent).where(_scope(business_id))
    if since_anchor and anchor is not None and (anchor.last_event_id or 0) > purged_up_to:
        anchored = session.execute(
            select(AuditEvent.hash).where(
                _scope(business_id), AuditEvent.id == anchor.last_event_id
            )
        ).first()
        if anchored is not None and anchored[0] == anchor.last_mac:
            query = query.where(AuditEvent.id > anchor.last_event_id)
            expected, last_id, anchored_seen = anchored[0], anchor.last_event_id, True
            removed += session.scalar(
                select(func.count(AuditEvent.id)).where(
                    _scope(business_id), AuditEvent.id <= anchor.last_event_id
                )
            )
    events = session.scalars(query.order_by(AuditEvent.id))
    for event in events:
        fault = _fault(event, expected, keyring)
        if fault is None and anchor is not None and event.id == anchor.last_event_id:
            anchored_seen = True
            if event.hash != anchor.last_mac:
                fault = Break(
                    event.id,
                    "it was sealed anew after its seal was written to the anchor outside the "
                    "database",
                )
        if fault is not None:
            break
        expected, last_id = event.hash, event.id
        checked += 1
    head = Head(business_id, removed + checked, last_id, expected)
    if fault is None and last_id is None and removed:
        fault = Break(None, "no events remain after the retention checkpoint (removed)")
    if fault is None and anchor is not None:
        fault = _truncation(anchor, head, anchored_seen, purged_up_to)
    return Report(checked, fault, head)


def _fault(event: AuditEvent, expected: str, keyring: Keyring) -> Break | None:
    if not event.hash:
        return Break(event.id, "it has no seal (a blank hash never counts as verified)")
    if not event.key_id:
        return Break(
            event.id,
            "it was recorded before the chain was keyed and is not sealed yet "
            "(run portal audit seal-legacy)",
        )
    if event.prev_hash != expected:
        return Break(event.id, "the previous event is missing or was changed")
    key = keyring.get(event.key_id)
    if key is None:
        return Break(
            event.id,
            f"its seal names key {event.key_id}, which is not configured "
            "(a forged seal, or a key removed before portal rotate-keys ran)",
        )
    if not hmac.compare_digest(event_mac(event, key), event.hash):
        return Break(
            event.id, "its contents were changed after it was recorded, or its seal was forged"
        )
    return None


def _truncation(anchor: Head, head: Head, anchored_seen: bool, purged_up_to: int) -> Break | None:
    anchored = anchor.last_event_id
    if anchored is not None and not anchored_seen and anchored > purged_up_to:
        return Break(
            anchored,
            "it is missing: the log ends before the last event anchored outside the database "
            "(events were removed from the end)",
        )
    if head.events < anchor.events:
        return Break(
            None,
            f"{anchor.events} events were anchored outside the database, only "
            f"{head.events} are recorded (events were removed)",
        )
    return None


@dataclass(frozen=True)
class Legacy:
    """A chain's events from before the chain was keyed, as ``seal-legacy`` found them."""

    events: int
    unhashed: int
    fault: Break | None
    #: Retention checkpoints left before the chain was keyed (no seal yet).
    checkpoints: int = 0


def _check_legacy_checkpoints(
    session: Session, business_id: int | None, keyring: Keyring
) -> tuple[int, Break | None]:
    """How many of the chain's checkpoints are unsealed (all before the sealed ones), or a fault."""
    prev_mac, unsealed, keyed = "", 0, False
    for checkpoint in _checkpoints(session, business_id):
        if checkpoint.mac:
            keyed = True
            fault = _checkpoint_fault(checkpoint, prev_mac, keyring)
            if fault is not None:
                return unsealed, fault
        elif keyed:
            return unsealed, Break(
                None, f"retention checkpoint {checkpoint.id} is not sealed but follows sealed ones"
            )
        else:
            unsealed += 1
        prev_mac = checkpoint.mac
    return unsealed, None


def check_legacy(session: Session, business_id: int | None, keyring: Keyring) -> Legacy:
    """Check the unkeyed prefix with its old SHA-256 hashes and the keyed rest with the keys.

    Events from before the hash chain existed (blank hash) can only be counted,
    and so can retention checkpoints from before keyed seals.
    """
    checkpoints, fault = _check_legacy_checkpoints(session, business_id, keyring)
    if fault is not None:
        return Legacy(0, 0, fault, checkpoints)
    expected = _checkpoint(session, business_id)[0]
    legacy = unhashed = 0
    keyed = False
    events = session.scalars(select(AuditEvent).where(_scope(business_id)).order_by(AuditEvent.id))
    for event in events:
        if event.key_id:
            keyed = True
            fault = _fault(event, expected, keyring)
        elif keyed:
            fault = Break(event.id, "an unkeyed event follows keyed ones")
        elif not event.hash and not event.prev_hash and legacy == unhashed:
            unhashed += 1
            fault = None
        elif event.prev_hash != expected:
            fault = Break(event.id, "the previous event is missing or was changed")
        elif legacy_hash(event) != event.hash:
            fault = Break(event.id, "its contents were changed after it was recorded")
        else:
            fault = None
        if fault is not None:
            return Legacy(legacy, unhashed, fault, checkpoints)
        legacy += 0 if keyed else 1
        expected = event.hash
    return Legacy(legacy, unhashed, None, checkpoints)


def sealed_with_other_keys(session: Session, business_id: int | None, key_id: str) -> bool:
    """Whether any event or checkpoint of the chain carries a seal by another key than ``key_id``."""
    event = session.scalars(
        select(AuditEvent.id).where(_scope(business_id), AuditEvent.key_id != key_id).limit(1)
    ).first()
    checkpoint = session.scalars(
        select(AuditCheckpoint.id)
        .where(_scope(business_id, AuditCheckpoint.business_id), AuditCheckpoint.key_id != key_id)
        .limit(1)
    ).first()
    return event is not None or checkpoint is not None


def reseal_with_newest_key(session: Session, now: datetime | None = None, **options) -> int:
    """See ``portal.audit.sealing.reseal_with_newest_key`` (here for ``portal rotate-keys``)."""
    from portal.audit.sealing import reseal_with_newest_key as reseal

    return reseal(session, now, **options)


def chains(session: Session) -> list[int | None]:
    """Every business id that has audit events (None for the platform chain)."""
    return list(session.scalars(select(AuditEvent.business_id).distinct()))


def reseal_chain(session: Session, business_id: int | None, keyring: Keyring) -> int:
    """Re-link and re-seal every event (and checkpoint) of one chain with the newest key.

    Returns how many events. Only after the caller has verified the chain: this
    blesses what it finds.
    """
    identifier, key = keyring.newest
    lock_chain(session, business_id)
    session.flush()
    prev_mac = ""
    for checkpoint in _checkpoints(session, business_id):
        checkpoint.mac = checkpoint_mac(checkpoint, key, prev_mac)
        checkpoint.key_id = identifier
        prev_mac = checkpoint.mac
    session.flush()
    columns = [getattr(AuditEvent, name) for name in SEALED_FIELDS]
    rows = session.execute(
        select(AuditEvent.id, *columns).where(_scope(business_id)).order_by(AuditEvent.id)
    ).all()
    prev = _checkpoint(session, business_id)[0]
    changes = []
    for row in rows:
        mac = event_mac(row, key, prev)
        changes.append({"event_id": row.id, "prev": prev, "mac": mac, "key_id": identifier})
        prev = mac
    if not changes:
        return 0
    _permit(session, "sealing")
    session.execute(
        update(AuditEvent.__table__)
        .where(AuditEvent.__table__.c.id == bindparam("event_id"))
        .values(prev_hash=bindparam("prev"), hash=bindparam("mac"), key_id=bindparam("key_id")),
        changes,
    )
    _forbid(session, "sealing")
    session.expire_all()
    return len(changes)


#: What lets one transaction past the append-only triggers, and takes it back: a
#: transaction-local setting on PostgreSQL, the one-row ``audit_write_permits`` table
#: (flipped and reset inside the same transaction) on SQLite. "retention" permits
#: DELETE, "sealing" an UPDATE of the seal columns only.
_PERMITS = {
    ("postgresql", "retention", True): "SET LOCAL portal.audit_retention = 'on'",
    ("postgresql", "retention", False): "SET LOCAL portal.audit_retention = 'off'",
    ("postgresql", "sealing", True): "SET LOCAL portal.audit_sealing = 'on'",
    ("postgresql", "sealing", False): "SET LOCAL portal.audit_sealing = 'off'",
    ("sqlite", "retention", True): "UPDATE audit_write_permits SET retention = 1 WHERE id = 1",
    ("sqlite", "retention", False): "UPDATE audit_write_permits SET retention = 0 WHERE id = 1",
    ("sqlite", "sealing", True): "UPDATE audit_write_permits SET sealing = 1 WHERE id = 1",
    ("sqlite", "sealing", False): "UPDATE audit_write_permits SET sealing = 0 WHERE id = 1",
}


def _permit(session: Session, what: str) -> None:
    """Let this transaction (only) delete or re-seal audit events past the triggers."""
    session.execute(text(_PERMITS[session.get_bind().dialect.name, what, True]))


def _forbid(session: Session, what: str) -> None:
    session.execute(text(_PERMITS[session.get_bind().dialect.name, what, False]))


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
    identifier, key = setup_for(session).keyring.newest
    earlier = _checkpoints(session, business_id)
    checkpoint = AuditCheckpoint(
        business_id=business_id,
        created_at=now,
        last_hash=last.hash,
        last_event_id=last.id,
        removed=len(old),
        key_id=identifier,
    )
    checkpoint.mac = checkpoint_mac(checkpoint, key, earlier[-1].mac if earlier else "")
    session.add(checkpoint)
    _permit(session, "retention")
    session.execute(delete(AuditEvent).where(_scope(business_id), AuditEvent.id <= last.id))
    _forbid(session, "retention")
    session.flush()
    return len(old)


def count_before(session: Session, business_id: int | None, cutoff: datetime) -> int:
    return session.scalar(
        select(func.count(AuditEvent.id)).where(_scope(business_id), AuditEvent.created_at < cutoff)
    )
