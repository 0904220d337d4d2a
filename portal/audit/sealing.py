"""Sealing the audit chains anew: old unkeyed events once, and everything after a key rotation.

Both verify first and change nothing if a chain does not check out, so a
re-sealing never blesses an edit; both are recorded by an audit event, and
the new heads are anchored once the transaction commits.

Old events: the migration that keys the chain (a9c1e0000016) has no app
configuration and so no key; ``portal db upgrade`` runs ``seal_legacy`` right
after migrating (``portal audit seal-legacy`` does the same by hand). Until
then those events are reported as not sealed, never as verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from portal.audit import anchor, chain
from portal.audit import service as audit
from portal.audit.chain import Break, Head
from portal.audit.keys import setup_for
from portal.clock import utcnow


class ChainBroken(Exception):
    """A chain did not verify, so it was not sealed anew."""

    def __init__(self, faults: list[tuple[int | None, Break]]) -> None:
        self.faults = faults
        super().__init__(
            "; ".join(f"{_label(business_id)}: {fault}" for business_id, fault in faults)
        )


def _label(business_id: int | None) -> str:
    return "platform" if business_id is None else f"business {business_id}"


@dataclass(frozen=True)
class Sealed:
    business_id: int | None
    events: int
    unhashed: int
    as_found: bool


def seal_legacy(
    session: Session, now: datetime | None = None, *, as_found: bool = False, actor: str
) -> list[Sealed]:
    """Seal with the newest key every chain that still holds unkeyed events; the caller commits.

    The unkeyed events are checked against their old SHA-256 hashes first; a
    chain that fails is left alone (ChainBroken), unless ``as_found``, which
    seals it anyway and says so in the audit event.
    """
    now = now or utcnow()
    setup = setup_for(session)
    todo, faults = [], []
    for business_id in chain.chains(session):
        legacy = chain.check_legacy(session, business_id, setup.keyring)
        if legacy.events == 0 and legacy.checkpoints == 0 and legacy.fault is None:
            continue
        if legacy.fault is not None and not as_found:
            faults.append((business_id, legacy.fault))
        todo.append((business_id, legacy))
    if faults:
        raise ChainBroken(faults)
    done = []
    for business_id, legacy in todo:
        resealed = chain.reseal_chain(session, business_id, setup.keyring)
        audit.record(
            session,
            audit.AUDIT_SEALED,
            now,
            business_id=business_id,
            actor_kind="system",
            actor_label=actor,
            sealed=legacy.events,
            unhashed=legacy.unhashed,
            checkpoints=legacy.checkpoints,
            resealed=resealed,
            as_found=legacy.fault is not None,
            problem=str(legacy.fault) if legacy.fault is not None else "",
        )
        done.append(Sealed(business_id, legacy.events, legacy.unhashed, legacy.fault is not None))
    _anchor_when_committed(session, [sealed.business_id for sealed in done], now, "seal-legacy")
    return done


def reseal_with_newest_key(
    session: Session, now: datetime | None = None, *, actor: str = "portal rotate-keys"
) -> int:
    """After a key rotation: verify every chain under the configured keys, then seal anew.

    Raises ChainBroken (changing nothing) if any chain fails, including against
    the anchor. Chains already sealed with the newest key only are left as they
    are. Returns how many events were sealed anew; the caller commits.
    """
    now = now or utcnow()
    setup = setup_for(session)
    newest = setup.keyring.newest[0]
    anchors = anchor.read(setup.anchor_path)
    faults, stale = [], []
    for business_id in anchor.chains_to_check(session, anchors):
        report = chain.verify(session, business_id, setup.keyring, anchor=anchors.get(business_id))
        if report.fault is not None:
            faults.append((business_id, report.fault))
        elif chain.sealed_with_other_keys(session, business_id, newest):
            stale.append(business_id)
    if faults:
        raise ChainBroken(faults)
    total = 0
    for business_id in stale:
        resealed = chain.reseal_chain(session, business_id, setup.keyring)
        audit.record(
            session,
            audit.AUDIT_RESEALED,
            now,
            business_id=business_id,
            actor_kind="system",
            actor_label=actor,
            resealed=resealed,
            key_id=newest,
        )
        total += resealed
    _anchor_when_committed(session, stale, now, "reseal")
    return total


def _anchor_when_committed(
    session: Session, business_ids: list[int | None], now: datetime, reason: str
) -> None:
    if not business_ids:
        return
    setup = setup_for(session)
    session.flush()
    heads: list[Head] = [
        chain.verify(session, business_id, setup.keyring).head for business_id in business_ids
    ]
    anchor.anchor_after_commit(session, setup, heads, reason=reason, now=now)
