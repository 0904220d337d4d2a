"""The audit anchor: each chain's head written outside the database.

A keyed seal shows an edited event, but not events removed from the end of a
chain, nor a chain re-sealed by someone who got hold of the key afterwards.
So the head of every chain (events ever recorded, the last event's id and
seal) is appended, one JSON line per chain, to ``instance/audit-anchor.log``
and written to the log (``portal.audit.anchor``, for a log host the database
cannot reach); ``portal audit verify`` compares each chain with its latest line.

When: not after every committed event (an fsync per request, and a file every
web process would share), but
- by the worker every ten minutes (``audit-anchor``), for chains whose head
  moved, after checking the events since the previous anchor;
- by ``portal audit verify`` (for chains it found intact) and ``portal audit anchor``;
- after the commit of a re-sealing (``portal rotate-keys``, ``portal audit seal-legacy``).
Events of the last few minutes before an attack are therefore covered only by
their seals, not yet by the anchor.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from portal.audit import chain
from portal.audit.chain import Break, Head
from portal.audit.keys import AuditSetup

log = logging.getLogger(__name__)

_PENDING = "portal_audit_pending_anchor"


def read(path: Path) -> dict[int | None, Head]:
    """The latest anchored head of each chain (a torn last line is skipped)."""
    heads: dict[int | None, Head] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return heads
    for line in lines:
        try:
            entry = json.loads(line)
            head = Head(
                entry["business_id"],
                int(entry["events"]),
                entry["last_event_id"],
                str(entry["last_mac"]),
            )
        except (ValueError, KeyError, TypeError):
            continue
        heads[head.business_id] = head
    return heads


def write(path: Path, heads: Iterable[Head], *, reason: str, now: datetime) -> int:
    """Append one line per head to the anchor file (synced to disk) and to the log."""
    lines = [
        json.dumps(
            {
                "anchored_at": now.isoformat(),
                "business_id": head.business_id,
                "events": head.events,
                "last_event_id": head.last_event_id,
                "last_mac": head.last_mac,
                "reason": reason,
            },
            sort_keys=True,
        )
        for head in heads
    ]
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: lines from several processes never overwrite each other.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, ("\n".join(lines) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    for line in lines:
        log.info("audit anchor %s", line)
    return len(lines)


def chains_to_check(session: Session, anchors: dict[int | None, Head]) -> list[int | None]:
    """Chains in the database and chains only the anchor knows (all their events gone)."""
    known = chain.chains(session)
    return known + [business_id for business_id in anchors if business_id not in known]


def anchor_chains(
    session: Session, setup: AuditSetup, now: datetime, *, reason: str
) -> list[tuple[int | None, Break]]:
    """Check each chain since its last anchor and anchor the heads that moved; return faults.

    A chain that does not check out is not anchored (its last good anchor stays
    the one ``verify`` compares with) and is logged as an error.
    """
    anchors = read(setup.anchor_path)
    heads, faults = [], []
    for business_id in chains_to_check(session, anchors):
        previous = anchors.get(business_id)
        report = chain.verify(
            session, business_id, setup.keyring, anchor=previous, since_anchor=True
        )
        if report.fault is not None:
            faults.append((business_id, report.fault))
            log.error("audit chain of business %s is broken: %s", business_id, report.fault)
        elif report.head != previous:
            heads.append(report.head)
    write(setup.anchor_path, heads, reason=reason, now=now)
    return faults


def anchor_after_commit(
    session: Session, setup: AuditSetup, heads: list[Head], *, reason: str, now: datetime
) -> None:
    """Write ``heads`` to the anchor once the transaction that made them commits."""
    session.info[_PENDING] = (setup.anchor_path, heads, reason, now)


@orm_event.listens_for(Session, "after_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        path, heads, reason, now = pending
        write(path, heads, reason=reason, now=now)


@orm_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
