"""In HIPAA mode no message names the client or the service: not the e-mail, not its row.

One business goes through everything that sends mail (a client account's
sign-up, a booking, a move, the reminders, the providers' agenda, business
news, a cancellation); then every outbox row (its subject, recipient, error
and sealed content) and every ``.eml`` is scanned for the client's name and
the service's name.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from portal.booking.agenda import queue_due_agendas
from portal.businesses.models import Business
from portal.catalog.models import Provider
from portal.clock import utcnow
from portal.mail.models import OutboxMessage
from portal.mail.outbox import _box
from tests.conftest import csrf_token, outbox
from tests.test_client_accounts import enable_accounts, sign_up
from tests.test_hipaa import set_hipaa
from tests.test_reminders import run_job, set_reminders
from tests.test_reschedule import TEN, TWO_PM, book, move

FORBIDDEN = ("Mia", "Example", "Haircut")


def test_no_message_or_outbox_row_names_the_client_or_the_service(
    app, client, session, salon, owner, clock
):
    set_hipaa(session, salon.business)
    # HIPAA mode serves HTTPS only; Flask-WTF checks the Referer of HTTPS posts.
    plain_open = client.open
    client.open = lambda *args, **kwargs: plain_open(
        *args, base_url="https://localhost", headers={"Referer": "https://localhost/b/"}, **kwargs
    )
    enable_accounts(session, salon.business)
    set_reminders(session, salon, "24,2")
    session.get(Business, salon.business.id).agenda_minute = 7 * 60
    session.get(Provider, salon.provider.id).staff_user_id = owner.id
    session.commit()

    assert sign_up(client).status_code == 200  # the sign-up confirmation
    manage_path = book(client, salon, TEN)  # confirmation, news to the owner
    assert move(client, manage_path, TWO_PM).status_code == 303  # moved, news
    clock.move_to(TWO_PM - timedelta(hours=23))
    assert run_job(app) == 1  # the 24-hour reminder
    clock.move_to(TWO_PM - timedelta(hours=5))  # 08:00 in Berlin: after the agenda time
    with app.app_context():
        assert queue_due_agendas(app.extensions["portal_db"], utcnow()) == 1
    later = book(client, salon, TEN + timedelta(days=3))  # far enough ahead to cancel
    token = csrf_token(client.get(later).text)
    assert client.post(f"{later}/cancel", data={"csrf_token": token}).status_code == 303

    sent = outbox(app)
    session.rollback()
    rows = session.scalars(select(OutboxMessage)).all()
    kinds = {row.kind for row in rows}
    assert {
        "prerendered",
        "booking.confirmation",
        "booking.rescheduled",
        "booking.reminder",
        "booking.agenda",
        "booking.business_news",
        "booking.cancellation",
    } <= kinds
    assert all(row.status == "sent" for row in rows), [(r.kind, r.last_error) for r in rows]

    with app.app_context():
        box = _box(app.config)
        scanned = [" ".join((row.subject, row.recipient, row.last_error)) for row in rows] + [
            box.open(row.payload_sealed) for row in rows if row.payload_sealed
        ]
    scanned += [json.dumps(row.dedupe_key) for row in rows]
    scanned += [_decoded(path.read_bytes()) for path in sent]
    assert len(sent) == len(rows)
    for text in scanned:
        for name in FORBIDDEN:
            assert name not in text, text


def _decoded(raw: bytes) -> str:
    """Every header and part of a message as text (parts may be base64 or quoted-printable)."""
    import email
    from email import policy

    message = email.message_from_bytes(raw, policy=policy.default)
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        payload = part.get_payload(decode=True) or b""
        parts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(parts)
