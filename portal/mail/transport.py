"""Where e-mails go: ``.eml`` files in development, SMTP when configured.

A worker sends a batch over one connection::

    with transport.connect() as connection:
        for message in batch:
            try:
                connection.send(message)
            except TemporaryFailure: ...  # retry later
            except PermanentFailure: ...  # give up now

``transport.send(message)`` is the one-message shorthand (open, send, close).

Every failure to hand a message over is a :class:`DeliveryError`: a
:class:`TemporaryFailure` (try again later) or a :class:`PermanentFailure`
(this message will never go through this server). Their ``str()`` is a short
sentence fit for the owner's failed-messages page: it names the SMTP reply code
and the server's text where there is one, and never the password or the body.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Errors


class DeliveryError(Exception):
    """A message could not be handed over.

    ``smtp_code`` is the SMTP reply code when the server answered with one.
    ``connection_failed`` is true when the failure happened while opening the
    connection (connecting, TLS, EHLO, login), before anything specific to the
    message was sent: every other message would meet the same failure right
    now, so a worker may put the rest of its batch back instead of trying each.
    """

    def __init__(
        self, description: str, *, smtp_code: int | None = None, connection_failed: bool = False
    ) -> None:
        super().__init__(description)
        self.description = description
        self.smtp_code = smtp_code
        self.connection_failed = connection_failed

    def __str__(self) -> str:
        return self.description


class TemporaryFailure(DeliveryError):
    """Try again later: the server is unreachable, busy, or answered 4xx."""


class PermanentFailure(DeliveryError):
    """The server refused this message for good (a 5xx reply to MAIL, RCPT or DATA)."""


# ---------------------------------------------------------------------------
# Interfaces


class Connection(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Transport(Protocol):
    def connect(self) -> AbstractContextManager[Connection]: ...

    def send(self, message: EmailMessage) -> None: ...


# ---------------------------------------------------------------------------
# Files, for development and tests


class FileTransport:
    """Writes each message as an ``.eml`` file, for development and tests."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._sequence = itertools.count()

    @contextmanager
    def connect(self) -> Iterator[FileConnection]:
        yield FileConnection(self)

    def send(self, message: EmailMessage) -> None:
        with self.connect() as connection:
            connection.send(message)

    def _write(self, message: EmailMessage) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        # The sequence keeps names in sending order even when the clock stands still.
        name = f"{stamp}-{os.getpid()}-{next(self._sequence):06d}-{secrets.token_hex(4)}.eml"
        path = self.directory / name
        partial = path.with_name(name + ".part")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed, so a reader listing *.eml never sees half a message.
            partial.write_bytes(bytes(message))
            partial.replace(path)
        except OSError as error:
            with suppress(OSError):
                partial.unlink(missing_ok=True)
            reason = error.strerror or type(error).__name__
            raise TemporaryFailure(
                f"could not write the message to {self.directory}: {reason}"
            ) from error


class FileConnection:
    def __init__(self, transport: FileTransport) -> None:
        self._transport = transport

    def send(self, message: EmailMessage) -> None:
        self._transport._write(message)


# ---------------------------------------------------------------------------
# SMTP

_URL_SHAPE = (
    "PORTAL_SMTP_URL must look like smtp://user:password@host:587, smtps://user:password@host:465"
    " or smtp://host:25?starttls=no (percent-encode any of : / ? # @ in the user name and password)"
)
_SERVER_TEXT_LIMIT = 300


class SMTPTransport:
    """Sends through an SMTP server named by a URL.

    ``smtp://user:pass@host:587`` requires STARTTLS: a server that does not
    offer it is a temporary failure, never a cleartext login or message.
    ``smtps://host:465`` uses implicit TLS. Both verify the server's
    certificate and host name against ``ssl_context`` (default: the system's
    trust store). ``smtp://host:25?starttls=no`` sends in plain text, and only
    because the URL says so (a relay on the same host or network).
    """

    def __init__(
        self, url: str, timeout: float = 15.0, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        # Error messages never repeat the URL: it may hold the password.
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"}:
            raise ValueError(_URL_SHAPE)
        try:
            port = parts.port
            host = parts.hostname
        except ValueError:
            raise ValueError(_URL_SHAPE) from None
        if not host or parts.path not in {"", "/"} or parts.fragment:
            raise ValueError(_URL_SHAPE)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = host
        self.port = port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else ""
        starttls_wanted = _starttls_wanted(parts.query, self.implicit_tls)
        self.starttls = starttls_wanted and not self.implicit_tls
        self.timeout = timeout
        self.ssl_context = ssl_context if ssl_context is not None else ssl.create_default_context()

    def __repr__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        query = "" if self.implicit_tls or self.starttls else "?starttls=no"
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"<SMTPTransport {scheme}://{user}{self.host}:{self.port}{query}>"

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @contextmanager
    def connect(self) -> Iterator[SMTPConnection]:
        """A connection for a batch; it opens on the first ``send`` and closes on exit."""
        connection = SMTPConnection(self)
        try:
            yield connection
        finally:
            connection.close()

    def send(self, message: EmailMessage) -> None:
        with self.connect() as connection:
            connection.send(message)

    # -- opening -----------------------------------------------------------

    def _open(self) -> smtplib.SMTP:
        """A connected, secured and logged-in session, or a ``TemporaryFailure``."""
        smtp: smtplib.SMTP | None = None
        stage = "connect"
        try:
            # Connecting in the constructor also sets the name the certificate must carry.
            # A greeting other than 220 raises SMTPConnectError.
            if self.implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.ssl_context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            stage = "ehlo"
            smtp.ehlo_or_helo_if_needed()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise TemporaryFailure(
                        f"the SMTP server {self.endpoint} does not offer STARTTLS, so nothing"
                        " was sent (mail goes out only encrypted; add ?starttls=no to"
                        " PORTAL_SMTP_URL only for a relay on a trusted network)",
                        connection_failed=True,
                    )
                stage = "starttls"
                smtp.starttls(context=self.ssl_context)
                stage = "ehlo"
                smtp.ehlo_or_helo_if_needed()  # again, inside TLS, as RFC 3207 asks
            if self.username:
                stage = "login"
                smtp.login(self.username, self._password)
        except BaseException as error:
            if smtp is not None:
                smtp.close()
            if isinstance(error, smtplib.SMTPException | OSError):
                raise self._opening_failure(stage, error) from error
            raise
        return smtp

    def _opening_failure(self, stage: str, error: BaseException) -> TemporaryFailure:
        # Everything that goes wrong before the first message-specific command is
        # about the server or the configuration, not the message, so it is
        # temporary: the messages wait (until their give-up time) for the operator
        # or the server to come back. That includes a 5xx reply to AUTH (535 bad
        # credentials) and a 5xx greeting: failing every queued message at once
        # because of a wrong password would lose mail an operator can still save
        # by fixing the password.
        where = f"the SMTP server {self.endpoint}"
        code: int | None = None
        if isinstance(error, smtplib.SMTPResponseException):
            code = error.smtp_code
            reply = self._reply(error.smtp_code, error.smtp_error)
            description = {
                "connect": f"{where} refused the connection: {reply}",
                "ehlo": f"{where} rejected EHLO: {reply}",
                "starttls": f"{where} refused STARTTLS: {reply}",
                "login": f"{where} rejected the user name or password: {reply}",
            }[stage]
        elif isinstance(error, smtplib.SMTPNotSupportedError) and stage == "login":
            description = (
                f"{where} does not offer AUTH; remove the user name and password from"
                " PORTAL_SMTP_URL if it needs none"
            )
        elif isinstance(error, smtplib.SMTPException) and stage == "login":
            description = f"{where} offers no login method this program supports"
        else:
            description = self._network_failure(error, where)
        return TemporaryFailure(description, smtp_code=code, connection_failed=True)

    def _network_failure(self, error: BaseException, where: str) -> str:
        if isinstance(error, ssl.SSLCertVerificationError):
            reason = error.verify_message or error.reason or "verification failed"
            return f"{where} presented a certificate that could not be verified ({reason})"
        if isinstance(error, ssl.SSLError):
            return f"the TLS handshake with {where} failed ({error.reason or error.strerror})"
        if isinstance(error, smtplib.SMTPServerDisconnected):
            # smtplib turns a timeout while reading a reply into "disconnected".
            if isinstance(error.__context__, TimeoutError):
                return f"{where} did not answer within {self.timeout:g} s"
            return f"{where} closed the connection"
        if isinstance(error, ConnectionRefusedError):
            return f"could not connect to {where}: connection refused"
        if isinstance(error, TimeoutError):
            return f"{where} did not answer within {self.timeout:g} s"
        if isinstance(error, socket.gaierror):
            return f"could not find the SMTP server {self.host} ({error.strerror})"
        if isinstance(error, OSError) and error.strerror:
            return f"the connection to {where} failed ({error.strerror})"
        return f"the connection to {where} failed ({type(error).__name__})"

    # -- sending -----------------------------------------------------------

    def _sending_failure(self, error: BaseException) -> DeliveryError:
        """A 4xx reply or a broken connection is temporary; a 5xx reply is permanent."""
        where = f"the SMTP server {self.endpoint}"
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            replies = list(error.recipients.values())
            if not replies:
                return PermanentFailure("the message has no recipients")
            codes = [code for code, _ in replies]
            text = "; ".join(self._reply(code, reply) for code, reply in replies)
            noun = "recipient" if len(replies) == 1 else "recipients"
            description = f"{where} refused the {noun}: {text}"
            # Permanent only if every refusal is: a 4xx among them may yet go through.
            temporary = [code for code in codes if not _permanent(code)]
            if temporary:
                return TemporaryFailure(description, smtp_code=temporary[0])
            return PermanentFailure(description, smtp_code=codes[0])
        if isinstance(error, smtplib.SMTPResponseException):
            what = {
                smtplib.SMTPSenderRefused: "refused the sender",
                smtplib.SMTPDataError: "refused the message",
                smtplib.SMTPHeloError: "rejected EHLO",
            }.get(type(error), "answered")
            description = f"{where} {what}: {self._reply(error.smtp_code, error.smtp_error)}"
            kind = PermanentFailure if _permanent(error.smtp_code) else TemporaryFailure
            return kind(description, smtp_code=error.smtp_code)
        if isinstance(error, smtplib.SMTPNotSupportedError):
            # e.g. an internationalised address and a server without SMTPUTF8.
            return PermanentFailure(f"{where} cannot take this message ({error})")
        return TemporaryFailure(self._network_failure(error, where))

    def _reply(self, code: int, text: bytes | str) -> str:
        """``550 no such user``: the code and the server's words, on one short line."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = " ".join(text.split())
        if self._password:
            # Servers have no reason to echo it; should one, it stays out of the record.
            text = text.replace(self._password, "***")
        if len(text) > _SERVER_TEXT_LIMIT:
            text = text[: _SERVER_TEXT_LIMIT - 1] + "…"
        return f"{code} {text}".strip()


def _permanent(code: int) -> bool:
    return 500 <= code <= 599


def _starttls_wanted(query: str, implicit_tls: bool) -> bool:
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValueError(f"PORTAL_SMTP_URL has a malformed query string; {_URL_SHAPE}") from None
    unknown = sorted(set(params) - {"starttls"})
    if unknown:
        raise ValueError(
            f"PORTAL_SMTP_URL has unknown parameter(s) {', '.join(unknown)};"
            " the only one is starttls=no (smtp:// only)"
        )
    values = params.get("starttls")
    if values is None:
        return True
    if implicit_tls:
        raise ValueError("PORTAL_SMTP_URL: starttls applies only to smtp://, not smtps://")
    if len(values) != 1 or values[0] not in {"yes", "no"}:
        raise ValueError("PORTAL_SMTP_URL: starttls must be given once, as starttls=no or yes")
    return values[0] == "yes"


class SMTPConnection:
    """One SMTP session shared by the messages of a batch (not thread-safe).

    It opens on the first ``send``. A ``send`` that fails drops the session,
    whatever the failure, and the next ``send`` opens a fresh one: a server
    that answered 4xx or 421 may have closed its end, and a new session is the
    one state known to be clean.
    """

    def __init__(self, transport: SMTPTransport) -> None:
        self._transport = transport
        self._smtp: smtplib.SMTP | None = None
        self._closed = False
        self.sessions_opened = 0

    def send(self, message: EmailMessage) -> None:
        if self._closed:
            raise RuntimeError("this SMTP connection is closed; use transport.connect() again")
        if self._smtp is None:
            self._smtp = self._transport._open()
            self.sessions_opened += 1
        try:
            # The envelope sender is the address in From (smtplib's default).
            refused = self._smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise self._transport._sending_failure(error) from error
        except BaseException:
            self._drop()
            raise
        if refused:
            # Some recipients took it and some did not. Sending again would give the
            # accepted ones a second copy, so it counts as sent; the refusals are logged.
            log.warning(
                "SMTP server %s refused some recipients of %r: %s",
                self._transport.endpoint,
                message["Subject"],
                "; ".join(
                    f"{address} {self._transport._reply(code, text)}"
                    for address, (code, text) in refused.items()
                ),
            )

    def close(self) -> None:
        """Say QUIT and close; the messages already sent stay sent whatever happens here."""
        self._closed = True
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


def transport_from_config(config) -> Transport:
    if config.get("SMTP_URL"):
        return SMTPTransport(config["SMTP_URL"])
    return FileTransport(config["OUTBOX_PATH"])
