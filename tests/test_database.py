"""Each database does its part of keeping bookings apart.

SQLite (embedded): WAL, foreign keys, ``BEGIN IMMEDIATE`` for views declared
``@writes``, and triggers that refuse two overlapping active bookings of one
provider. PostgreSQL: row locks, plus an exclusion constraint that does the
same. Either way the database refuses an overlap whatever the application does.
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


def test_views_declared_as_writing_take_the_write_lock_at_begin_on_sqlite_only(
    app, salon, database_backend
):
    statements: list[str] = []

    @event.listens_for(portal_db.engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    book = f"/b/salon/services/{salon.service.id}/book"
    # The same address: the POST view is declared @writes, the GET view is not.
    with app.test_request_context(book, method="POST"):
        portal_db.session.execute(text("SELECT 1"))
    with app.test_request_context(book, method="GET"):
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
def booked(make_booking):
    """One confirmed booking of the salon's provider at SLOT, with 10 minutes kept free after."""
    return make_booking(
        start=SLOT, occupied_until=SLOT + timedelta(minutes=40), name="First", created_by="staff"
    )


def test_an_overlapping_booking_written_straight_to_the_database_is_refused(
    session, booked, database_backend
):
    insert = Booking.__table__.insert().values(
        **_copy_of(booked, start=SLOT + timedelta(minutes=15))
    )
    with pytest.raises(IntegrityError) as raised:
        session.execute(insert)
    if database_backend == "postgresql":
        assert raised.value.orig.sqlstate == "23P01"
        assert raised.value.orig.diag.constraint_name == "bookings_no_overlap"
    else:
        assert str(raised.value.orig) == "bookings_no_overlap"  # the SQLite trigger
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Booking)) == 1


def test_moving_a_booking_onto_another_is_refused_by_the_database(session, booked):
    other = Booking(**_copy_of(booked, start=booked.occupied_until, manage_token_hash="b" * 64))
    session.add(other)
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(
            Booking.__table__.update()
            .where(Booking.id == other.id)
            .values(start_at=booked.start_at, end_at=booked.end_at)
        )
    session.rollback()


def test_sqlite_refuses_a_booking_occupying_its_provider_over_a_day(
    session, booked, database_backend
):
    if database_backend != "sqlite":
        pytest.skip("the one-day bound belongs to the SQLite trigger")
    too_long = _copy_of(booked, start=booked.start_at + timedelta(days=3))
    too_long["occupied_until"] = too_long["start_at"] + timedelta(hours=25)
    with pytest.raises(IntegrityError) as raised:
        session.execute(Booking.__table__.insert().values(**too_long))
    assert str(raised.value.orig) == "bookings_occupancy_over_a_day"
    session.rollback()


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
    client, booked, salon, monkeypatch, session
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
    assert response.status_code == 409
    assert "This time was just taken" in response.text
    # PostgreSQL's exclusion constraint or SQLite's trigger: the database refused it.
    assert session.scalar(select(func.count()).select_from(Booking)) == 1
    # Nor did the attempt keep the client it added on the way.
    assert session.scalar(select(func.count()).where(Client.email == "late@example.com")) == 0
