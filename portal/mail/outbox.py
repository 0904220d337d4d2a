"""The durable outbox: a message is a row of the change that causes it; a worker sends it.

``enqueue`` adds the row to the caller's session, so it commits or rolls back
with the booking (or sign-up, or lock) it tells of: a rolled-back change
leaves no message, a committed one always has its row, even if the process
dies the next instant. After the commit the task queue is nudged to deliver
at once; the worker's sweep finds what a lost nudge left behind.

``deliver_due`` is the worker's step. It claims due rows with a lease (a
conditional update under the write lock on SQLite, ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so two workers never send the same row in one
attempt; writes each message (in its language, from what the row names),
sends it and marks it sent right away. A temporary failure is retried with
exponential backoff and jitter until ``give_up_at``; a permanent one fails
at once. A worker that dies mid-send leaves its lease to expire, and the row
is sent again: delivery is at least once, and exactly once unless a worker
dies between the server's "250" and the mark.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.utils import parseaddr

from flask import Flask, current_app
from flask_babel import force_locale, get_locale
from sqlalchemy import Connection, and_, bindparam, event, or_, select, update
from sqlalchemy.orm import Session

from portal.clock import utcnow
from portal.mail.models import DROPPED, FAILED, PENDING, SENDING, SENT, OutboxMessage
from portal.mail.transport import DeliveryError, PermanentFailure, TemporaryFailure
from portal.secret_box import SecretBox, encryption_keys

log = logging.getLogger(__name__)

#: How long a claim keeps other workers off a row (a send takes seconds at most).
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
_NUDGE_KEY = "portal_outbox_nudge"

Renderer = Callable[[Session, dict], Message | None]
Prefetcher = Callable[[Session, list[dict]], None]
_renderers: dict[str, Renderer] = {}
_prefetchers: dict[str, Prefetcher] = {}


class NothingToSend(Exception):
    """The message no longer applies (its booking was cancelled, moved or purged): dropped."""


def renders(kind: str, *, prefetch: Prefetcher | None = None) -> Callable[[Renderer], Renderer]:
    """Register the function that writes messages of ``kind`` from their payload.

    ``prefetch(session, payloads)``, if given, reads ahead what the renderer
    will need for all messages of ``kind`` in a batch (into the identity map
    or a ``transaction_cache``), so a batch of 100 costs a few queries, not
    a few hundred. The renderer must still work without it.
    """

    def register(renderer: Renderer) -> Renderer:
        _renderers[kind] = renderer
        if prefetch is not None:
            _prefetchers[kind] = prefetch
        return renderer

    return register


#: What queued payloads are sealed for (``portal rotate-keys`` re-seals them).
OUTBOX_PURPOSE = b"portal outbox payloads"


def _box(config) -> SecretBox:
    return SecretBox(encryption_keys(config), OUTBOX_PURPOSE)


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    payload: dict,
    business_id: int | None,
    locale: str | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Add a message of ``kind`` to ``session``'s transaction; the worker writes and sends it.

    ``locale`` defaults to the language of the current request.
    """
    if kind not in _renderers:
        raise ValueError(f"no renderer for outbox messages of kind {kind!r}")
    config = current_app.config
    now = utcnow()
    message = OutboxMessage(
        business_id=business_id,
        kind=kind,
        recipient=recipient,
        subject="",
        locale=locale or current_language(),
        payload_sealed=_box(config).seal(json.dumps(payload)),
        status=PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        give_up_at=now + timedelta(hours=float(config["MAIL_GIVE_UP_HOURS"])),
        last_error="",
        dedupe_key=dedupe_key,
    )
    session.add(message)
    session.info[_NUDGE_KEY] = current_app._get_current_object()
    return message


@event.listens_for(Session, "after_commit")
def _nudge_worker(session: Session) -> None:
    app = session.info.pop(_NUDGE_KEY, None)
    queue = app.extensions.get("portal_queue") if app is not None else None
    if queue is None:
        return
    try:
        queue.nudge()
    except Exception:
        # The rows are committed; the worker's sweep sends them within a minute.
        log.exception("could not nudge the worker; the sweep will deliver the outbox")


@event.listens_for(Session, "after_rollback")
def _forget_nudge(session: Session) -> None:
    session.info.pop(_NUDGE_KEY, None)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    id: int
    kind: str
    locale: str
    attempts: int
    created_at: datetime
    give_up_at: datetime
    payload_sealed: bytes | None


def deliver_due(app: Flask, *, batch: int = 100) -> DeliveryReport:
    """Send every message that is due now; return what happened."""
    database = app.extensions["portal_db"]
    transport = app.extensions["portal_mail"]
    report = DeliveryReport()
    while claims := _claim(database, utcnow(), batch):
        # Half the lease: a batch that a slow server drags out is cut short and the
        # rest released before another worker could take the rows as abandoned.
        deadline = time.monotonic() + LEASE.total_seconds() / 2
        with (
            transport.connect() as connection,
            _Writer(app, database) as writer,
            database.writer_connection() as marks,
        ):
            writer.prefetch(claims)
            for index, claim in enumerate(claims):
                if time.monotonic() > deadline:
                    _release(marks, claims[index:])
                    break
                failure = _deliver(writer, marks, connection, claim, report)
                if failure is not None and failure.connection_failed:
                    connection = _Unreachable(failure)
        if len(claims) < batch:
            break
    return report


class _Writer:
    """Writes the messages of one batch: one request context and one read session for all.

    Renderers need a request context (``url_for``, the language) and read the
    database; setting both up per message would cost more than writing most
    messages. The batch reads one snapshot, taken after its rows were claimed.
    """

    def __init__(self, app: Flask, database) -> None:
        self.app = app
        self.database = database
        self.box = _box(app.config)
        self._opened: dict[int, dict] = {}

    def __enter__(self) -> _Writer:
        self.context = self.app.test_request_context(base_url=self.app.config["BASE_URL"])
        self.context.push()
        self.session = self.database.reader()
        return self

    def __exit__(self, *_exc) -> None:
        self.session.close()
        self.context.pop()

    def prefetch(self, claims: list[_Claim]) -> None:
        """Read ahead, per kind, what the batch's messages name (see ``renders``).

        Only an optimisation: a row whose payload cannot be opened, or a
        prefetch that fails, leaves each message to read its own data.
        """
        payloads: dict[str, list[dict]] = {}
        for claim in claims:
            if claim.kind in _prefetchers and claim.payload_sealed is not None:
                try:
                    self._opened[claim.id] = self._open(claim)
                except Exception:  # noqa: S112 (write() reports it for this row)
                    continue
                payloads.setdefault(claim.kind, []).append(self._opened[claim.id])
        for kind, kind_payloads in payloads.items():
            try:
                _prefetchers[kind](self.session, kind_payloads)
            except Exception:
                log.exception("prefetch for %s messages failed; writing them one by one", kind)
                self.session.rollback()

    def _open(self, claim: _Claim) -> dict:
        return json.loads(self.box.open(claim.payload_sealed))

    def write(self, claim: _Claim) -> Message:
        """The message a row stands for, in its language, with links to the public site."""
        if claim.payload_sealed is None:
            raise NothingToSend("the message has no content left to send")
        payload = self._opened.pop(claim.id, None) or self._open(claim)
        try:
            with force_locale(claim.locale):
                message = _renderers[claim.kind](self.session, payload)
        except Exception:
            self.session.rollback()  # the next message starts on a clean session
            raise
        if message is None:
            raise NothingToSend(
                "no longer applies: what it was about was cancelled, moved or removed"
            )
        return message


_OUTBOX = OutboxMessage.__table__


@functools.cache
def _still_claimed(columns: frozenset[str]):
    """An update of ``columns`` of a claimed row, which matches only while the claim stands.

    Built once per set of columns and run with parameters (``_mark``): building
    and caching a statement per message costs more than the update itself.
    """
    return (
        update(_OUTBOX)
        .where(
            _OUTBOX.c.id == bindparam("claim_id"),
            _OUTBOX.c.status == SENDING,
            _OUTBOX.c.attempts == bindparam("claim_attempts"),
        )
        .values({name: bindparam(f"new_{name}") for name in sorted(columns)})
    )


def _mark(marks: Connection, claim: _Claim, **values) -> None:
    """Set ``values`` on the claimed row, if this worker's claim still stands."""
    marks.execute(
        _still_claimed(frozenset(values)),
        {
            "claim_id": claim.id,
            "claim_attempts": claim.attempts,
            **{f"new_{name}": value for name, value in values.items()},
        },
    )


def _release(marks: Connection, claims: list[_Claim]) -> None:
    """Give back claimed rows this worker will not send now; the attempt does not count."""
    with marks.begin():
        for claim in claims:
            _mark(marks, claim, status=PENDING, lease_until=None, attempts=claim.attempts - 1)


def _due(now: datetime):
    return or_(
        and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == SENDING, OutboxMessage.lease_until < now),
    )


def _claim(database, now: datetime, limit: int) -> list[_Claim]:
    session = database.writer()
    with session, session.begin():
        query = select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = session.scalars(query).all()
        if not ids:
            return []
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), _due(now))
            .values(
                status=SENDING,
                lease_until=now + LEASE,
                attempts=OutboxMessage.attempts + 1,
            )
        )
        rows = session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.kind,
                OutboxMessage.locale,
                OutboxMessage.attempts,
                OutboxMessage.created_at,
                OutboxMessage.give_up_at,
                OutboxMessage.payload_sealed,
            )
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.id)
        ).all()
        return [_Claim(*row) for row in rows]


class _Unreachable:
    """The rest of a batch once the server could not be reached: each send fails alike,
    so a server that never answers costs one timeout per batch, not one per message."""

    def __init__(self, error: DeliveryError) -> None:
        self.error = error

    def send(self, message: Message) -> None:
        raise self.error


def _deliver(
    writer: _Writer, marks: Connection, connection, claim: _Claim, report: DeliveryReport
) -> TemporaryFailure | None:
    """Write and send one claimed message; return the temporary failure, if any."""
    subject = ""
    try:
        message = writer.write(claim)
        subject = str(message["Subject"] or "")
        connection.send(message)
    except TemporaryFailure as error:
        _retry_or_fail(marks, claim, subject, str(error), report)
        return error
    except NothingToSend as error:
        _finish(marks, claim, status=DROPPED, subject=subject, error=str(error))
        report.dropped += 1
    except PermanentFailure as error:
        _finish(marks, claim, status=FAILED, subject=subject, error=str(error))
        report.failed += 1
        report.errors.append(str(error))
    except Exception as error:
        # A message that cannot be written will not be written on the next try either.
        log.exception("could not write outbox message %s (%s)", claim.id, claim.kind)
        _finish(marks, claim, status=FAILED, subject=subject, error=f"not written: {error}")
        report.failed += 1
        report.errors.append(str(error))
    else:
        _finish(marks, claim, status=SENT, subject=subject, error="")
        report.sent += 1
    return None


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff (1, 2, 4 … minutes, at most an hour), with ±25 % jitter."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return base * random.uniform(0.75, 1.25)  # noqa: S311 (spreading retries, not a secret)


def _retry_or_fail(
    marks: Connection, claim: _Claim, subject: str, error: str, report: DeliveryReport
) -> None:
    next_attempt = utcnow() + retry_delay(claim.attempts)
    if next_attempt > claim.give_up_at:
        _finish(marks, claim, status=FAILED, subject=subject, error=f"gave up: {error}")
        report.failed += 1
    else:
        _finish(marks, claim, status=PENDING, subject=subject, error=error, retry=next_attempt)
        report.retried += 1
    report.errors.append(error)


def _finish(
    marks: Connection,
    claim: _Claim,
    *,
    status: str,
    subject: str,
    error: str,
    retry: datetime | None = None,
) -> None:
    """Record the outcome of this worker's attempt (only while its claim still stands)."""
    values: dict[str, object] = {
        "status": status,
        "lease_until": None,
        "last_error": error[:500],
    }
    if subject:
        values["subject"] = subject[:300]
    if status in (SENT, DROPPED):
        values.update(sent_at=utcnow(), payload_sealed=None)
    if retry is not None:
        values["next_attempt_at"] = retry
    with marks.begin():
        _mark(marks, claim, **values)


def resend(session: Session, business_id: int, message_id: int) -> OutboxMessage | None:
    """Queue a failed message of the business again, with a fresh give-up time."""
    message = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.id == message_id,
            OutboxMessage.business_id == business_id,
            OutboxMessage.status == FAILED,
        )
    )
    if message is None or message.payload_sealed is None:
        return None
    now = utcnow()
    message.status = PENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.give_up_at = now + timedelta(hours=float(current_app.config["MAIL_GIVE_UP_HOURS"]))
    message.last_error = ""
    session.info[_NUDGE_KEY] = current_app._get_current_object()
    return message


def failed_messages(session: Session, business_id: int) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.business_id == business_id, OutboxMessage.status == FAILED)
            .order_by(OutboxMessage.created_at.desc())
        )
    )


def forget_sent(session: Session, before: datetime) -> int:
    """Delete the rows of messages sent (or dropped) before ``before``; they hold no content."""
    rows = session.execute(
        OutboxMessage.__table__.delete().where(
            OutboxMessage.status.in_((SENT, DROPPED)), OutboxMessage.sent_at < before
        )
    )
    return rows.rowcount or 0


@renders("prerendered")
def _prerendered(_session: Session, payload: dict) -> Message:
    """A message written when it was queued (account e-mails: cheap, and not about a booking)."""
    return message_from_bytes(base64.b64decode(payload["mime"]))


def enqueue_written(
    session: Session, message: Message, *, business_id: int | None
) -> OutboxMessage:
    """Queue a message already written; its subject shows on the failed-messages page at once."""
    row = enqueue(
        session,
        kind="prerendered",
        recipient=parseaddr(str(message["To"]))[1],
        payload={"mime": base64.b64encode(bytes(message)).decode()},
        business_id=business_id,
    )
    row.subject = str(message["Subject"] or "")[:300]
    return row
