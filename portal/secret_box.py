"""Encryption at rest for secrets the app must read back (TOTP seeds, queued messages)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    """Fernet with a key derived from the app's key for one ``purpose``.

    Each purpose gets its own key, so a token sealed for one use never opens as another.
    """

    def __init__(self, key_material: str, purpose: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            key_material.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self._purpose = purpose.decode()

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as error:
            raise ValueError(f"the {self._purpose} cannot be decrypted with this key") from error


def key_material(config) -> str:
    """PORTAL_ENCRYPTION_KEY, or the secret key where none is set."""
    return config.get("ENCRYPTION_KEY") or config["SECRET_KEY"]
