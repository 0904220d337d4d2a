"""Secret tokens (manage links, sessions, one-time links): 256 random bits out, only a hash kept."""

import hashlib
import secrets


def new_manage_token() -> tuple[str, str]:
    """Return a fresh token and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
