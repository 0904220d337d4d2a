"""A client's data: everything stored about them as JSON, and erasure."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import String, Text, func, inspect, select, text

from portal.accounts.models import ClientAccount, UserSession
from portal.audit.models import AuditEvent
from portal.booking.models import Booking
from portal.clients.models import Client
from tests.conftest import NOW, OWNER_PASSWORD, csrf_token, sign_in
from tests.factories import make_client, make_ended_booking, redeem_gift_card

NAME = "Zelda Zimmermann"
EMAIL = "zelda.z@example.com"
PHONE = "+49 30 9998877"


@pytest.fixture
def zelda(session, salon):
    """A client with an account, a session, two bookings, one paid by gift card."""
    client = make_client(session, salon.business, name=NAME, email=EMAIL, phone=PHONE)
    plain = make_ended_booking(session, salon, client, NOW - timedelta(days=3))
    paid = make_ended_booking(session, salon, client, NOW - timedelta(days=2))
    account = ClientAccount(
        business_id=salon.business.id, client_id=client.id, email=EMAIL, name=NAME
    )
    session.add(account)
    session.flush()
    session.add(
        UserSession(
            account_kind="client",
            account_id=account.id,
            token_hash="f" * 64,
            business_id=salon.business.id,
            created_at=NOW,
            last_seen_at=NOW,
            ip_address="198.51.100.9",
            user_agent="Zelda's phone",
        )
    )
    redeem_gift_card(session, paid, "ZELDA0000001", created_at=NOW)
    session.commit()
    return client, plain.id, paid.id


def test_staff_download_everything_about_a_client_as_json(client, session, owner, zelda):
    sign_in(client)
    response = client.get(f"/staff/clients/{zelda[0].id}/data.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.text)
    assert data["client"]["email"] == EMAIL
    assert data["account"]["email"] == EMAIL
    assert "password_hash" not in response.text
    assert [b["id"] for b in data["bookings"]] == [zelda[1], zelda[2]]
    assert data["bookings"][0]["consents"][0]["kind"] == "terms"
    assert data["bookings"][1]["gift_card_redemptions"][0]["amount_cents"] == 3000
    session.rollback()
    assert session.scalar(select(func.count()).where(AuditEvent.kind == "client.exported")) == 1
    assert client.get("/staff/clients/999999/data.json").status_code == 404


def _text_columns(session):
    """(table, column) of every text column outside the hash-chained audit log."""
    inspector = inspect(session.get_bind())
    for table in inspector.get_table_names():
        if table in ("audit_events", "alembic_version"):
            continue
        for column in inspector.get_columns(table):
            if isinstance(column["type"], String | Text):
                yield table, column["name"]


def _found_anywhere(session, needle: str) -> list[str]:
    hits = []
    for table, column in _text_columns(session):
        count = session.execute(
            text(f'SELECT count(*) FROM "{table}" WHERE lower("{column}") LIKE :needle'),  # noqa: S608
            {"needle": f"%{needle.lower()}%"},
        ).scalar()
        if count:
            hits.append(f"{table}.{column}")
    return hits


def test_erasure_leaves_no_personal_data(client, session, owner, zelda):
    zelda_client, plain_id, paid_id = zelda
    sign_in(client)
    page = client.get(f"/staff/clients/{zelda_client.id}/erase")
    assert "cannot be undone" in page.text
    wrong = client.post(
        f"/staff/clients/{zelda_client.id}/erase",
        data={"csrf_token": csrf_token(page.text), "password": "not it"},
    )
    assert wrong.status_code == 422
    assert "Your password is not correct." in wrong.text
    done = client.post(
        f"/staff/clients/{zelda_client.id}/erase",
        data={"csrf_token": csrf_token(page.text), "password": OWNER_PASSWORD},
    )
    assert done.status_code == 303
    session.rollback()
    session.expire_all()
    for needle in (NAME, EMAIL, PHONE, "Zimmermann", "198.51.100.9", "203.0.113.7"):
        assert _found_anywhere(session, needle) == [], needle
    assert session.get(Booking, plain_id) is None
    kept = session.get(Booking, paid_id)
    assert kept is not None and kept.ip_address == ""
    anonymous = session.get(Client, zelda_client.id)
    assert anonymous.email == f"erased-{zelda_client.id}@erased.invalid"
    assert session.scalar(select(func.count()).select_from(ClientAccount)) == 0
    assert (
        session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.account_kind == "client")
        )
        == 0
    )
    event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "client.erased")).one()
    assert event.details["bookings_deleted"] == 1
    assert EMAIL not in json.dumps(event.details)


def test_a_client_without_kept_bookings_is_removed_entirely(client, session, owner, salon):
    lone = make_client(session, salon.business, name="Lone Wolf", email="lone@example.com")
    make_ended_booking(session, salon, lone, NOW - timedelta(days=1))
    session.commit()
    lone_id = lone.id
    sign_in(client)
    page = client.get(f"/staff/clients/{lone_id}/erase")
    client.post(
        f"/staff/clients/{lone_id}/erase",
        data={"csrf_token": csrf_token(page.text), "password": OWNER_PASSWORD},
    )
    session.rollback()
    session.expire_all()
    assert session.get(Client, lone_id) is None
    assert _found_anywhere(session, "lone@example.com") == []


def test_only_the_owner_may_erase(client, session, salon, zelda):
    from portal.accounts.service import create_staff_user

    create_staff_user(
        session, salon.business, email="s@salon.example", password=OWNER_PASSWORD, role="staff"
    )
    session.commit()
    sign_in(client, "s@salon.example")
    assert client.get(f"/staff/clients/{zelda[0].id}/erase").status_code == 403
    assert client.get(f"/staff/clients/{zelda[0].id}/data.json").status_code == 200
