"""The owner's failed e-mails: a real SMTP server refuses a confirmation, the owner sends it again."""

from __future__ import annotations

import re
import socket

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from portal import create_app
from portal.accounts.service import create_staff_user
from portal.audit.models import AuditEvent
from portal.extensions import db as portal_db
from portal.mail.models import OutboxMessage
from tests.conftest import csrf_token, outbox, sign_in
from tests.factories import CONSENTS, DETAILS

CLIENT_ADDRESS = DETAILS["email"]
RIVAL_OWNER_EMAIL = "owner@rival.example"
RIVAL_OWNER_PASSWORD = "granite meadow trumpet 58"
PAGE = "/staff/messages/"
REFUSAL = "550 mailbox unavailable"
WARNING = "1 e-mail could not be delivered."


class MailServer:
    """An SMTP server that refuses the client's mailbox (550 or 451) until told to accept it."""

    def __init__(self) -> None:
        self.answer_for_client = REFUSAL
        self.delivered: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == CLIENT_ADDRESS and self.answer_for_client:
            return self.answer_for_client
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.delivered.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def to_client(self) -> list[bytes]:
        return [content for rcpt_tos, content in self.delivered if CLIENT_ADDRESS in rcpt_tos]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mail_server():
    server = MailServer()
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    server.port = controller.port
    yield server
    controller.stop()


@pytest.fixture
def app(app_env, monkeypatch, mail_server):
    """The test app (and so ``client``, ``session``, ``owner_client``) sending through SMTP."""
    monkeypatch.setenv("PORTAL_SMTP_URL", f"smtp://127.0.0.1:{mail_server.port}?starttls=no")
    monkeypatch.setenv("PORTAL_MAIL_FROM", "Salon Test <bookings@salon.example>")
    app = create_app()
    yield app
    portal_db.dispose_all()


def book_online(app, salon) -> None:
    client = app.test_client()
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS})
    assert response.status_code == 303


def client_messages(session) -> list[OutboxMessage]:
    session.rollback()
    session.expire_all()
    return list(
        session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == CLIENT_ADDRESS))
    )


def press_send_again(client, message_id: int, page_url: str = PAGE):
    page = client.get(page_url)
    return client.post(
        f"/staff/messages/{message_id}/resend", data={"csrf_token": csrf_token(page.text)}
    )


@pytest.fixture
def failed_confirmation(app, salon, session, mail_server) -> OutboxMessage:
    """Mia's booking confirmation, refused by the server with a 550 and so failed."""
    book_online(app, salon)
    outbox(app)
    [message] = client_messages(session)
    assert message.status == "failed"
    return message


@pytest.fixture
def rival_owner_client(app, session, rival):
    create_staff_user(
        session,
        rival.business,
        email=RIVAL_OWNER_EMAIL,
        password=RIVAL_OWNER_PASSWORD,
        role="owner",
        name="Rhea Rival",
    )
    session.commit()
    client = app.test_client()
    assert sign_in(client, RIVAL_OWNER_EMAIL, RIVAL_OWNER_PASSWORD).status_code == 302
    return client


def test_a_refused_confirmation_is_listed_and_sent_again(
    app, owner_client, session, mail_server, failed_confirmation
):
    message = failed_confirmation
    page = owner_client.get(PAGE)
    assert page.status_code == 200
    assert CLIENT_ADDRESS in page.text
    assert "Booking confirmed: Haircut" in page.text
    assert "refused the recipient: 550 mailbox unavailable" in page.text
    assert re.search(r"<td>1</td>", page.text)  # attempts
    # Created at NOW, 06:00 UTC: 07:00 in Berlin.
    assert "07:00" in page.text
    dashboard = owner_client.get("/staff/")
    assert WARNING in dashboard.text
    assert 'role="alert"' in dashboard.text
    assert 'href="/staff/messages/"' in dashboard.text

    mail_server.answer_for_client = None
    response = press_send_again(owner_client, message.id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(PAGE)
    assert "Queued again" in owner_client.get(PAGE).text
    outbox(app)

    assert len(mail_server.to_client()) == 1
    [message] = client_messages(session)
    assert message.status == "sent"
    page = owner_client.get(PAGE)
    assert CLIENT_ADDRESS not in page.text
    assert "No failed e-mails" in page.text
    assert WARNING not in owner_client.get("/staff/").text
    events = session.scalars(select(AuditEvent).where(AuditEvent.kind == "message.resent")).all()
    assert [(event.actor_label, event.details["message"]) for event in events] == [
        ("owner@salon.example", message.id)
    ]
    assert CLIENT_ADDRESS not in str(events[0].details)


def test_a_message_the_server_defers_waits_for_its_next_attempt(
    app, owner_client, session, salon, mail_server
):
    mail_server.answer_for_client = "451 try again later"
    book_online(app, salon)
    outbox(app)

    [message] = client_messages(session)
    assert (message.status, message.attempts) == ("pending", 1)
    page = owner_client.get(PAGE)
    assert "1 e-mail is waiting to be tried again" in page.text
    assert "Next attempt:" in page.text
    assert "No failed e-mails" in page.text
    assert "could not be delivered" not in owner_client.get("/staff/").text


def test_staff_cannot_open_the_page_but_learn_of_the_failure(staff_client, failed_confirmation):
    assert staff_client.get(PAGE).status_code == 403
    dashboard = staff_client.get("/staff/")
    assert WARNING in dashboard.text
    assert "The owner can send them again." in dashboard.text
    assert 'href="/staff/messages/"' not in dashboard.text


def test_staff_cannot_send_again(staff_client, failed_confirmation):
    page = staff_client.get("/staff/")
    response = staff_client.post(
        f"/staff/messages/{failed_confirmation.id}/resend",
        data={"csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 403


def test_another_business_neither_sees_nor_resends_the_message(
    rival_owner_client, session, failed_confirmation
):
    page = rival_owner_client.get(PAGE)
    assert CLIENT_ADDRESS not in page.text
    assert "No failed e-mails" in page.text
    assert "could not be delivered" not in rival_owner_client.get("/staff/").text
    response = press_send_again(rival_owner_client, failed_confirmation.id)
    assert response.status_code == 404
    [message] = client_messages(session)
    assert message.status == "failed"


@pytest.mark.parametrize("message_id", ["0", "99999999999999999999", "2147483648", "abc", "-1"])
def test_a_bad_message_id_is_not_found(owner_client, message_id):
    page = owner_client.get(PAGE)
    response = owner_client.post(
        f"/staff/messages/{message_id}/resend", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 404


def test_a_message_that_did_not_fail_is_not_sent_again(app, owner_client, session, salon):
    book_online(app, salon)
    [message] = client_messages(session)
    assert message.status == "pending"
    response = press_send_again(owner_client, message.id)
    assert response.status_code == 404


def test_the_resend_address_takes_only_a_post(owner_client, failed_confirmation):
    assert owner_client.get(f"/staff/messages/{failed_confirmation.id}/resend").status_code == 405


def test_a_resend_without_the_form_token_is_refused(owner_client, session, failed_confirmation):
    response = owner_client.post(f"/staff/messages/{failed_confirmation.id}/resend")
    assert response.status_code == 400
    [message] = client_messages(session)
    assert message.status == "failed"


def test_a_message_without_content_shows_no_button(owner_client, session, failed_confirmation):
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == failed_confirmation.id)
        .values(payload_sealed=None)
    )
    session.commit()
    page = owner_client.get(PAGE)
    assert CLIENT_ADDRESS in page.text
    assert f"/staff/messages/{failed_confirmation.id}/resend" not in page.text
    assert "cannot be sent again" in page.text


def test_a_message_without_a_subject_is_named_by_its_kind(
    owner_client, session, failed_confirmation
):
    # A message that could not be written never got a subject.
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == failed_confirmation.id).values(subject="")
    )
    session.commit()
    assert "<td>Booking confirmation</td>" in owner_client.get(PAGE).text
