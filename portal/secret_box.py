"""Encryption at rest for secrets the app must read back (TOTP seeds, queued messages)."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _fernet(material: str, purpose: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    """Fernet with keys derived from the app's key materials for one ``purpose``.

    Each purpose gets its own key, so a token sealed for one use never opens as another.
    Given several materials (newest first), the newest seals and every one opens, so
    old keys keep working until ``portal rotate-keys`` has re-sealed everything.
    """

    def __init__(self, key_materials: str | Sequence[str], purpose: bytes) -> None:
        materials = [key_materials] if isinstance(key_materials, str) else list(key_materials)
        if not materials:
            raise ValueError("at least one key material is needed")
        self._fernet = MultiFernet([_fernet(material, purpose) for material in materials])
        self._purpose = purpose.decode()

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as error:
            raise ValueError(f"the {self._purpose} cannot be decrypted with this key") from error

    def reseal(self, sealed: bytes) -> bytes:
        """``sealed`` re-encrypted under the newest key (ValueError if no key opens it)."""
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken as error:
            raise ValueError(f"the {self._purpose} cannot be decrypted with this key") from error


def encryption_keys(config) -> list[str]:
    """The key materials, newest first.

    PORTAL_ENCRYPTION_KEYS (comma-separated, newest first), else PORTAL_ENCRYPTION_KEY,
    else the secret key.
    """
    configured = config.get("ENCRYPTION_KEYS") or ""
    if isinstance(configured, str):
        configured = configured.split(",")
    keys = [key.strip() for key in configured if key.strip()]
    if keys:
        return keys
    return [config.get("ENCRYPTION_KEY") or config["SECRET_KEY"]]


def key_material(config) -> str:
    """The newest key material: the one new secrets are sealed with."""
    return encryption_keys(config)[0]
