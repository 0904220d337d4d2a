"""The audit chain's MAC keys and where its anchor file lives, bound to each app's database.

The keys are derived (HKDF-SHA256, an ``info`` of their own) from the encryption
key materials, newest first (``portal.secret_box.encryption_keys``): whoever can
write the database but does not know those materials cannot compute a valid
seal. Each key has a short id, stored with every event, so verification knows
which configured key sealed it.

``audit.record`` is called with only a session, from every feature; the setup is
therefore bound to the engine's connection pool (which the writer engine shares)
when the app is built, the way ``portal.extensions.db`` is bound to its app.
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from portal.secret_box import encryption_keys

#: HKDF ``info``: audit MAC keys are never the keys of any other purpose.
KEY_INFO = b"portal audit chain hmac-sha256 v1"
#: Where the chain heads are written, under the instance folder.
ANCHOR_FILE = "audit-anchor.log"


def derive_key(material: str) -> bytes:
    """The 32-byte HMAC key derived from one key material."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(
        material.encode()
    )


def key_id(key: bytes) -> str:
    """A short public name of ``key`` (it reveals nothing of the key)."""
    return hmac.new(key, b"portal audit key id", hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class Keyring:
    """The configured audit keys, newest first, by key id."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_materials(cls, materials: list[str]) -> Keyring:
        derived = [derive_key(material) for material in materials]
        return cls(tuple((key_id(key), key) for key in derived))

    @property
    def newest(self) -> tuple[str, bytes]:
        return self.keys[0]

    def get(self, identifier: str) -> bytes | None:
        return dict(self.keys).get(identifier)


@dataclass(frozen=True)
class AuditSetup:
    keyring: Keyring
    anchor_path: Path


_bound: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def setup_from_config(config, instance_path: str | Path) -> AuditSetup:
    return AuditSetup(
        Keyring.from_materials(encryption_keys(config)), Path(instance_path) / ANCHOR_FILE
    )


def bind(engine, setup: AuditSetup) -> None:
    """Sessions on ``engine`` seal audit events with ``setup`` (also for tools without an app)."""
    _bound[engine.pool] = setup


def init_app(app) -> None:
    """Bind the audit keys and anchor path to the app's database (after ``db.init_app``)."""
    setup = setup_from_config(app.config, app.instance_path)
    bind(app.extensions["portal_db"].engine, setup)
    app.extensions["portal_audit"] = setup


def setup_for(session: Session) -> AuditSetup:
    """The audit setup of the app whose database ``session`` writes to."""
    bind = session.get_bind()
    setup = _bound.get(getattr(bind, "engine", bind).pool)  # a Connection names its engine
    if setup is not None:
        return setup
    from flask import current_app, has_app_context

    if has_app_context() and "portal_audit" in current_app.extensions:
        return current_app.extensions["portal_audit"]
    raise RuntimeError("audit events need the app's keys: build the app (create_app) first")
