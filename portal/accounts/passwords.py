"""Password hashing with argon2id, rehashing when the parameters change."""

from __future__ import annotations

import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def normalise(password: str) -> str:
    """NFKC, so the same password typed on another keyboard still matches (NIST 800-63B)."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """Return an argon2id hash of ``password`` (any length, any Unicode)."""
    return _hasher.hash(normalise(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password`` against a stored hash in constant work.

    With no hash (unknown account, or one that never set a password) a dummy
    hash is checked instead, so the answer takes as long either way.
    """
    target = password_hash or _dummy_hash()
    try:
        matched = _hasher.verify(target, normalise(password))
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("dummy password for timing equality")
