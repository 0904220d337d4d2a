"""The durable outbox against a real SMTP server (aiosmtpd on loopback) and real workers.

A message is a row of the transaction that causes it; the worker's step
(``deliver_due``) sends it, retries temporary failures with backoff, fails
permanent ones, and two workers on one database send each message once.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db as portal_db
from portal.mail import outbox
from portal.mail.models import OutboxMessage
from portal.mail.outbox import deliver_due, enqueue_written
from tests.conftest import csrf_token
from tests.factories import CONSENTS, DETAILS
from tests.gunicorn_server import Worker
from tests.services import free_port

TIMES = ("2026-03-03T09:00Z", "2026-03-03T10:00Z", "2026-03-03T11:00Z")


class Inbox:
    """An aiosmtpd handler that keeps what it accepts; ``reply`` can refuse instead."""

    def __init__(self, reply: str = "250 Message accepted for delivery", delay: float = 0.0):
        self.messages: list[email.message.Message] = []
        self.reply = reply
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        if self.reply.startswith("250"):
            self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return self.reply

    def to(self, address: str) -> list[email.message.Message]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def smtp_server(smtp_port):
    """Start (and stop) an aiosmtpd server on ``smtp_port`` when the test asks for it."""
    controllers: list[Controller] = []

    def start(inbox: Inbox) -> Inbox:
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        controllers.append(controller)
        return inbox

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_app(app_env, monkeypatch, smtp_port):
    monkeypatch.setenv("PORTAL_SMTP_URL", f"smtp://127.0.0.1:{smtp_port}?starttls=no")
    monkeypatch.setenv("PORTAL_MAIL_FROM", "Salon Test <bookings@salon.example>")
    app = create_app()
    yield app
    portal_db.dispose_all()


def book(client, salon, start: str) -> int:
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start={start}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS})
    return response.status_code


def deliver(app) -> outbox.DeliveryReport:
    with app.app_context():
        return deliver_due(app)


def statuses(session) -> Counter:
    session.rollback()
    return Counter(session.scalars(select(OutboxMessage.status)))


def test_bookings_made_while_the_mail_server_is_down_are_delivered_once_it_is_back(
    smtp_app, smtp_server, salon, owner, session, clock
):
    client = smtp_app.test_client()
    assert [book(client, salon, start) for start in TIMES] == [303, 303, 303]
    queued = statuses(session)
    assert queued["pending"] >= 3

    down = deliver(smtp_app)  # connection refused: a temporary failure for every message
    assert down.sent == 0
    assert down.retried == sum(queued.values())
    assert "refused" in down.errors[0]

    inbox = smtp_server(Inbox())
    assert deliver(smtp_app).sent == 0  # not due yet: the backoff holds them back
    clock.shift(outbox.FIRST_RETRY * 1.25 + timedelta(seconds=1))  # the latest first retry
    back = deliver(smtp_app)
    assert back.sent == sum(queued.values())
    assert deliver(smtp_app).sent == 0  # nothing twice

    confirmations = inbox.to(DETAILS["email"])
    assert len(confirmations) == 3
    assert len({m["Message-ID"] for m in confirmations}) == 3
    assert sorted(m["Subject"] for m in confirmations) == [
        "Booking confirmed: Haircut, 03 Mar 2026 10:00",
        "Booking confirmed: Haircut, 03 Mar 2026 11:00",
        "Booking confirmed: Haircut, 03 Mar 2026 12:00",
    ]
    to_owner = inbox.to(owner.email)
    assert len(to_owner) == 3  # the owner hears of each booking, once
    assert statuses(session) == Counter({"sent": sum(queued.values())})


def test_a_permanent_refusal_fails_the_message_at_once(smtp_app, smtp_server, salon, session):
    smtp_server(Inbox(reply="550 5.1.1 mailbox unavailable"))
    assert book(smtp_app.test_client(), salon, TIMES[0]) == 303
    report = deliver(smtp_app)
    assert report.sent == 0 and report.failed >= 1
    session.rollback()
    failed = session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == DETAILS["email"])
    ).one()
    assert failed.status == "failed"
    assert failed.attempts == 1
    assert "550" in failed.last_error
    assert failed.subject.startswith("Booking confirmed: Haircut")


def test_a_temporary_refusal_is_retried_until_the_give_up_time(
    smtp_app, smtp_server, salon, session, clock
):
    smtp_server(Inbox(reply="451 4.3.0 try again later"))
    assert book(smtp_app.test_client(), salon, TIMES[0]) == 303
    attempts = 0
    for _ in range(60):  # the backoff grows to an hour; 24 hours take well under 60 tries
        deliver(smtp_app)
        attempts += 1
        session.rollback()
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == DETAILS["email"])
        ).one()
        if message.status == "failed":
            break
        assert message.status == "pending"
        assert "451" in message.last_error
        clock.move_to(message.next_attempt_at)
    assert message.status == "failed"
    assert message.last_error.startswith("gave up: ")
    assert 5 < message.attempts == attempts < 60
    assert message.created_at + timedelta(hours=23) < message.next_attempt_at


def test_a_rolled_back_transaction_leaves_no_message(smtp_app, smtp_server, salon, session):
    inbox = smtp_server(Inbox())
    with smtp_app.test_request_context():
        writer = portal_db.writer()
        message = EmailMessage()
        message["To"] = "someone@example.com"
        message["Subject"] = "Never sent"
        message.set_content("This change is rolled back.")
        enqueue_written(writer, message, business_id=salon.business.id)
        writer.flush()  # the row is in the database's transaction …
        assert writer.scalar(select(func.count(OutboxMessage.id))) == 1
        writer.rollback()  # … and goes with it
        writer.close()
    assert deliver(smtp_app).sent == 0
    assert inbox.messages == []
    assert statuses(session) == Counter()


def test_a_refused_booking_queues_nothing(smtp_app, salon, session):
    client = smtp_app.test_client()
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start={TIMES[0]}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.text), **DETAILS})
    assert response.status_code == 422  # consents missing
    assert statuses(session) == Counter()


def _queue_many(app, business_id: int, count: int) -> None:
    with app.test_request_context():
        writer = portal_db.writer()
        with writer.begin():
            for number in range(count):
                message = EmailMessage()
                message["From"] = "bookings@salon.example"
                message["To"] = f"client{number}@example.com"
                message["Subject"] = f"Message {number}"
                message["Message-ID"] = f"<m{number}@salon.example>"
                message.set_content("Hello")
                enqueue_written(writer, message, business_id=business_id)
        writer.close()


DELIVER_ONCE = """
import sys
from portal import create_app
from portal.mail.outbox import deliver_due

app = create_app()
with app.app_context():
    report = deliver_due(app, batch=5)
print(report.sent)
"""


def test_two_workers_on_one_database_deliver_each_message_once(
    smtp_app, smtp_server, salon, app_env, smtp_port
):
    # Each message takes the server 20 ms, so the two workers' runs overlap.
    inbox = smtp_server(Inbox(delay=0.02))
    _queue_many(smtp_app, salon.business.id, 120)
    env = {
        **os.environ,
        **app_env,
        "PORTAL_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?starttls=no",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", DELIVER_ONCE], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    sent = [int(worker.communicate(timeout=120)[0].strip().splitlines()[-1]) for worker in workers]
    assert sum(sent) == 120
    assert min(sent) > 0, sent  # both workers took part
    ids = [m["Message-ID"] for m in inbox.messages]
    assert len(ids) == 120
    assert len(set(ids)) == 120


def test_portal_worker_delivers_what_a_request_queued(
    smtp_app, smtp_server, salon, app_env, smtp_port
):
    inbox = smtp_server(Inbox())
    env = {
        **os.environ,
        **app_env,
        "PORTAL_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?starttls=no",
    }
    worker = Worker(env).start()
    try:
        assert book(smtp_app.test_client(), salon, TIMES[0]) == 303  # nudges the queue
        deadline = time.monotonic() + 30
        while not inbox.to(DETAILS["email"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        log = worker.stop()
    assert len(inbox.to(DETAILS["email"])) == 1, log
    assert "Traceback" not in log, log


def test_portal_worker_with_redis_delivers_what_a_request_queued(
    app_env, monkeypatch, smtp_server, smtp_port, salon, redis_server
):
    import redis

    with redis.Redis.from_url(redis_server.url) as store:
        store.flushdb()
    monkeypatch.setenv("PORTAL_REDIS_URL", redis_server.url)
    monkeypatch.setenv("PORTAL_SMTP_URL", f"smtp://127.0.0.1:{smtp_port}?starttls=no")
    app = create_app()
    inbox = smtp_server(Inbox())
    env = {**os.environ, **app_env, "PORTAL_REDIS_URL": redis_server.url}
    env["PORTAL_SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}?starttls=no"
    worker = Worker(env).start()
    try:
        assert book(app.test_client(), salon, TIMES[0]) == 303
        deadline = time.monotonic() + 30
        while not inbox.to(DETAILS["email"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        log = worker.stop()
        portal_db.dispose_all()
    assert len(inbox.to(DETAILS["email"])) == 1, log
    assert "Redis" in log


@pytest.mark.parametrize(
    ("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (20, 60)]
)
def test_retries_back_off_exponentially_with_jitter_up_to_an_hour(attempts, minutes):
    delays = [outbox.retry_delay(attempts) for _ in range(200)]
    assert all(
        timedelta(minutes=minutes) * 0.75 <= delay <= timedelta(minutes=minutes) * 1.25
        for delay in delays
    )
    assert len(set(delays)) > 1  # jitter: workers that failed together do not retry together


def test_a_batch_a_slow_server_drags_past_half_its_lease_gives_the_rest_back(
    smtp_app, smtp_server, salon, session, monkeypatch
):
    # Each message takes the server longer than half the (shortened) lease.
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=0.2))
    inbox = smtp_server(Inbox(delay=0.15))
    _queue_many(smtp_app, salon.business.id, 3)
    report = deliver(smtp_app)
    assert report.sent == 1
    assert len(inbox.messages) == 1
    session.rollback()
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(row.status, row.attempts, row.lease_until) for row in rows] == [
        ("sent", 1, None),
        ("pending", 0, None),  # released, not abandoned: no other worker sends it twice
        ("pending", 0, None),
    ]
    assert deliver(smtp_app).sent == 1  # the next run takes them up again
