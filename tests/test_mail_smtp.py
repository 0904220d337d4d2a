"""With PORTAL_SMTP_URL set, confirmations go through a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller

from portal import create_app
from portal.extensions import db as portal_db
from tests.conftest import csrf_token, outbox, path_of
from tests.factories import CONSENTS, DETAILS


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_inbox():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def smtp_app(app_env, monkeypatch, smtp_inbox):
    _, port = smtp_inbox
    monkeypatch.setenv("PORTAL_SMTP_URL", f"smtp://127.0.0.1:{port}?starttls=no")
    monkeypatch.setenv("PORTAL_MAIL_FROM", "Salon Test <bookings@salon.example>")
    app = create_app()
    yield app
    portal_db.engine.dispose()


def test_confirmation_is_delivered_through_the_smtp_server(smtp_app, smtp_inbox, salon):
    inbox, _ = smtp_inbox
    client = smtp_app.test_client()
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    page = client.get(url)
    response = client.post(
        url,
        data={"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS},
    )
    assert response.status_code == 303
    assert inbox.messages == []  # the request only queued it
    assert outbox(smtp_app) == []  # the worker's step sent it, and not to the development outbox
    [(sender, recipients, raw)] = inbox.messages
    assert sender == "bookings@salon.example"
    assert recipients == ["mia@example.com"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"].startswith("Booking confirmed: Haircut")
    assert path_of(response) in message.get_body(("plain",)).get_content()
    assert message.get_payload()[1].get_content_type() == "text/calendar"


def test_a_refused_booking_sends_no_mail(smtp_app, smtp_inbox, salon):
    inbox, _ = smtp_inbox
    client = smtp_app.test_client()
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    page = client.get(url)
    response = client.post(
        url,
        data={"csrf_token": csrf_token(page.text), **DETAILS},  # no consents
    )
    assert response.status_code == 422
    assert outbox(smtp_app) == []
    assert inbox.messages == []
