"""Password hashing with argon2id, rehashing when the parameters change."""

from __future__ import annotations

import unicodedata
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY, Parameters

#: What every real instance hashes with: RFC 9106's second recommendation
#: (argon2id, t=3, 64 MiB, p=4), argon2-cffi's default.
PRODUCTION_PARAMETERS = RFC_9106_LOW_MEMORY
#: ``PORTAL_ENV=testing`` only: the same algorithm and shape at the smallest cost.
#: The suite hashes and checks thousands of passwords; at the real cost that
#: was half the time of a staff test, and it measures nothing the tests assert.
TESTING_PARAMETERS = Parameters(
    type=Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=1,
    memory_cost=8,
    parallelism=1,
)

_hasher = PasswordHasher.from_parameters(PRODUCTION_PARAMETERS)


def init_app(app) -> None:
    """Hash with the production parameters, or the cheap ones in ``PORTAL_ENV=testing``."""
    global _hasher
    testing = app.config.get("PORTAL_ENV") == "testing"
    parameters = TESTING_PARAMETERS if testing else PRODUCTION_PARAMETERS
    if _hasher.time_cost != parameters.time_cost or _hasher.memory_cost != parameters.memory_cost:
        _hasher = PasswordHasher.from_parameters(parameters)
        _dummy_hash.cache_clear()


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
