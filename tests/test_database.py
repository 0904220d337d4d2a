"""Each database does its part of keeping bookings apart.

SQLite (embedded): WAL, foreign keys, and ``BEGIN IMMEDIATE`` for write
requests. PostgreSQL: row locks, plus an exclusion constraint that refuses
two overlapping active bookings of one provider whatever the application does.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from portal.booking import service as booking_service
from portal.booking.models import Booking
from portal.clients.models import Client
from portal.extensions import db as portal_db
from tests.conftest import NOW, csrf_token

SLOT = NOW + timedelta(days=1, hours=3)  # Tuesday 10:00 in Berlin
SLOT_PARAM = "2026-03-03T09:00Z"


def test_connections_are_configured_for_the_backend(app, database_backend):
    with portal_db.engine.connect() as connection:
        if database_backend == "sqlite":
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        else:
            assert connection.dialect.driver == "psycopg"
            assert connection.execute(text("SHOW server_encoding")).scalar() == "UTF8"


def test_write_requests_take_the_write_lock_at_begin_on_sqlite_only(app, database_backend):
    statements: list[str] = []

    @event.listens_for(portal_db.engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.test_request_context("/", method="POST"):
        portal_db.session.execute(text("SELECT 1"))
    with app.test_request_context("/", method="GET"):
        portal_db.session.execute(text("SELECT 1"))
    begins = [s for s in statements if s.startswith("BEGIN")]
    if database_backend == "sqlite":
        assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]
    else:
        # PostgreSQL serialises bookings with row locks (SELECT ... FOR UPDATE).
        assert begins == []


def test_postgresql_has_the_no_overlap_exclusion_constraint(app, database_backend):
    with portal_db.engine.connect() as connection:
        if database_backend == "sqlite":
            sql = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'bookings'")
            ).scalar()
            assert "EXCLUDE" not in sql.upper()
            return
        definition = connection.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'bookings_no_overlap' AND contype = 'x'"
            )
        ).scalar()
    assert definition is not None
    assert "gist" in definition
    assert "tstzrange(start_at, occupied_until)" in definition
    assert "provider_id WITH =" in definition


def _copy_of(booking: Booking, start=None, **changes) -> dict:
    """The columns of ``booking`` as a new row, moved to ``start`` when given."""
    columns = {c.key: getattr(booking, c.key) for c in Booking.__table__.columns if c.key != "id"}
    columns["manage_token_hash"] = "x" * 64
    if start is not None:
        shift = start - booking.start_at
        for name in ("start_at", "end_at", "occupied_until"):
            columns[name] += shift
    columns.update(changes)
    return columns


@pytest.fixture
def booked(session, salon, clock):
    """One confirmed booking of the salon's provider at SLOT."""
    client = Client(business_id=salon.business.id, name="First", email="first@example.com")
    booking = Booking(
        business_id=salon.business.id,
        client=client,
        service_id=salon.service.id,
        provider_id=salon.provider.id,
        start_at=SLOT,
        end_at=SLOT + timedelta(minutes=30),
        occupied_until=SLOT + timedelta(minutes=40),
        status="confirmed",
        created_by="staff",
        ip_address="",
        price_cents=0,
        manage_token_hash="a" * 64,
        created_at=NOW,
    )
    session.add(booking)
    session.commit()
    return booking


def test_an_overlapping_booking_written_straight_to_the_database(session, booked, database_backend):
    insert = Booking.__table__.insert().values(
        **_copy_of(booked, start=SLOT + timedelta(minutes=15))
    )
    if database_backend == "postgresql":
        with pytest.raises(IntegrityError) as raised:
            session.execute(insert)
        assert raised.value.orig.sqlstate == "23P01"
        assert raised.value.orig.diag.constraint_name == "bookings_no_overlap"
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Booking)) == 1
    else:
        # SQLite has no such constraint: there BEGIN IMMEDIATE and the check are the wall.
        session.execute(insert)
        session.commit()
        assert session.scalar(select(func.count()).select_from(Booking)) == 2


def test_adjacent_and_cancelled_bookings_do_not_clash(session, booked):
    session.execute(
        Booking.__table__.insert().values(
            **_copy_of(booked, start=booked.occupied_until, manage_token_hash="b" * 64)
        )
    )
    session.execute(Booking.__table__.insert().values(**_copy_of(booked, status="cancelled")))
    session.commit()
    assert session.scalar(select(func.count()).select_from(Booking)) == 3


def test_a_booking_the_check_missed_gets_the_just_taken_page(
    client, booked, salon, monkeypatch, database_backend, session
):
    # A bug in the application check: it believes every provider is free.
    monkeypatch.setattr(booking_service, "_provider_is_free", lambda *args, **kwargs: True)
    url = (
        f"/b/salon/services/{salon.service.id}/book?provider={salon.provider.id}&start={SLOT_PARAM}"
    )
    page = client.get(url.replace(SLOT_PARAM, "2026-03-03T11:00Z"))
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Late Comer",
            "email": "late@example.com",
            "phone": "+49 30 1234567",
            "accept_terms": "y",
            "accept_policy": "y",
        },
    )
    session.rollback()
    count = session.scalar(select(func.count()).select_from(Booking))
    if database_backend == "postgresql":
        assert response.status_code == 409
        assert "This time was just taken" in response.text
        assert count == 1
    else:
        # SQLite relies on the application check alone.
        assert response.status_code == 303
        assert count == 2
