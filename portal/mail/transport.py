"""Where e-mails go: ``.eml`` files in development, SMTP when configured."""

from __future__ import annotations

import itertools
import os
import secrets
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class FileTransport:
    """Writes each message as an ``.eml`` file, for development and tests."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._sequence = itertools.count()

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        # The sequence keeps names in sending order even when the clock stands still.
        name = f"{stamp}-{os.getpid()}-{next(self._sequence):06d}-{secrets.token_hex(4)}.eml"
        path = self.directory / name
        path.write_bytes(bytes(message))


class SMTPTransport:
    """Sends through an SMTP server named by a URL.

    ``smtp://user:pass@host:587`` uses STARTTLS when the server offers it,
    ``smtps://host:465`` uses implicit TLS, and ``smtp://host:25?starttls=no``
    sends in plain text (only for a local relay).
    """

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("PORTAL_SMTP_URL must look like smtp://host:port or smtps://host:port")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = "starttls=no" not in parts.query
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if not self.implicit_tls and self.starttls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def transport_from_config(config) -> Transport:
    if config.get("SMTP_URL"):
        return SMTPTransport(config["SMTP_URL"])
    return FileTransport(config["OUTBOX_PATH"])
