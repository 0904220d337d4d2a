"""Re-encrypting everything sealed at rest under the newest key (``portal rotate-keys``).

``PORTAL_ENCRYPTION_KEYS`` lists key materials newest first: the newest seals,
every listed one opens. After a new key is put in front, ``rotate_keys``
re-seals each stored secret under it (``MultiFernet.rotate``) in one
transaction; then the old key can be removed from the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal.accounts import totp
from portal.accounts.models import StaffUser
from portal.audit import chain
from portal.audit import service as audit
from portal.booking.models import Booking
from portal.booking.service import MANAGE_TOKEN_PURPOSE
from portal.mail.models import OutboxMessage
from portal.mail.outbox import OUTBOX_PURPOSE
from portal.secret_box import SecretBox
from portal.support.models import SupportUser

ACTOR = "portal rotate-keys"

#: Every column sealed with ``SecretBox``: what the count calls it, the column, its purpose.
SEALED_COLUMNS: tuple[tuple[str, InstrumentedAttribute, bytes], ...] = (
    ("staff TOTP secrets", StaffUser.totp_secret_encrypted, totp.PURPOSE),
    ("support TOTP secrets", SupportUser.totp_secret_encrypted, totp.PURPOSE),
    ("booking manage tokens", Booking.manage_token_sealed, MANAGE_TOKEN_PURPOSE),
    ("outbox payloads", OutboxMessage.payload_sealed, OUTBOX_PURPOSE),
)


@dataclass
class Rotation:
    """How many values each column had re-sealed, and how many no configured key opened."""

    resealed: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)
    audit_events: int = 0


def rotate_keys(session: Session, keys: Sequence[str], now: datetime) -> Rotation:
    """Re-seal every sealed value under ``keys[0]``; flushes, the caller commits once.

    A value no key in ``keys`` opens is left as it is and counted: a TOTP secret
    of that kind needs its user's two-factor sign-in reset. The audit chains are
    verified and sealed anew with the newest key too; if one does not verify,
    ``ChainBroken`` is raised and the caller rolls everything back.
    """
    rotation = Rotation()
    for label, column, purpose in SEALED_COLUMNS:
        box = SecretBox(keys, purpose)
        model = column.class_
        rows = session.execute(select(model.id, column).where(column.is_not(None))).all()
        changes, unreadable = [], 0
        for row_id, sealed in rows:
            try:
                changes.append({"id": row_id, column.key: box.reseal(bytes(sealed))})
            except ValueError:
                unreadable += 1
        if changes:
            session.execute(update(model), changes)
        rotation.resealed[label] = len(changes)
        rotation.unreadable[label] = unreadable
    rotation.audit_events = chain.reseal_with_newest_key(session, now, actor=ACTOR)
    audit.record(
        session,
        audit.KEYS_ROTATED,
        now,
        business_id=None,
        actor_kind="system",
        actor_label=ACTOR,
        keys=len(keys),
        resealed=rotation.resealed,
        unreadable=rotation.unreadable,
    )
    session.flush()
    return rotation
