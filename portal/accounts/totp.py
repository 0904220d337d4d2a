"""TOTP two-factor codes (RFC 6238), encrypted secrets, QR codes, recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime

import pyotp
import segno
from flask_babel import gettext

from portal import secret_box

log = logging.getLogger(__name__)

DIGITS = 6
INTERVAL = 30
#: Accept the codes of one step before and after the current one (clock drift).
WINDOW = 1
RECOVERY_CODE_COUNT = 10
#: What TOTP secrets are sealed for (``portal rotate-keys`` re-seals them).
PURPOSE = b"portal totp secrets"


class SecretUnreadable(ValueError):
    """No configured key opens a TOTP secret: the keys changed without ``portal rotate-keys``."""


class SecretBox(secret_box.SecretBox):
    """Encrypts TOTP secrets at rest with keys derived from the app's key materials."""

    def __init__(self, key_materials: str | Sequence[str]) -> None:
        super().__init__(key_materials, PURPOSE)

    def open(self, sealed: bytes) -> str:
        try:
            return super().open(sealed)
        except ValueError as error:
            raise SecretUnreadable(
                "the TOTP secret cannot be decrypted with any configured key"
            ) from error


def readable(box: SecretBox, sealed: bytes | None) -> str | None:
    """The opened secret; None when there is none or no configured key opens it (logged)."""
    if sealed is None:
        return None
    try:
        return box.open(sealed)
    except SecretUnreadable:
        log.warning("no configured encryption key opens a stored TOTP secret")
        return None


def new_secret() -> str:
    """A random base32 secret of 160 bits, as RFC 4226 recommends."""
    return pyotp.random_base32(32)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // INTERVAL


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).generate_otp(step)


def matching_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and newer than ``last_step``.

    Remembering the returned step and passing it back as ``last_step`` makes
    every code single-use.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    current = time_step(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > last_step and hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no inline styles, so the CSP allows it)."""
    return segno.make(uri, error="m").svg_inline(
        scale=5, title=gettext("Scan with your authenticator")
    )


def format_secret(secret: str) -> str:
    """The key in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def enrolment_page(secret: str, account: str, issuer: str) -> dict[str, str]:
    """What the enrolment page shows: the QR code of the secret, and the secret to type in."""
    return {
        "qr_svg": qr_svg(provisioning_uri(secret, account, issuer)),
        "secret": format_secret(secret),
    }


def new_recovery_codes() -> list[str]:
    """Ten codes like ``k7qm-3xfd-p2ha`` (60 random bits each)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(alphabet) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def hash_recovery_code(code: str) -> str:
    """Codes are random, so a plain SHA-256 of the normalised code is enough."""
    normalised = code.strip().lower().replace(" ", "").replace("-", "")
    return hashlib.sha256(normalised.encode()).hexdigest()
