"""SQLite writers take turns on a lock file: a waiting writer goes on as soon as the turn is free."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import text

from portal import sqlite_turns as turns
from portal.db import SQLITE_BEGIN_OPTION, make_engine
from portal.sqlite_turns import TurnTakingConnection, lock_path_for


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE bookings (id INTEGER PRIMARY KEY, who TEXT)"))
    yield engine
    engine.dispose()


def writer(engine):
    return engine.connect().execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def test_a_second_writer_waits_for_the_turn_and_goes_on_when_the_first_commits(engine):
    first = writer(engine)
    first.begin()
    first.execute(text("INSERT INTO bookings (who) VALUES ('first')"))
    started, done = threading.Event(), threading.Event()

    def second_writer():
        with writer(engine) as second, second.begin():
            started.set()
            second.execute(text("INSERT INTO bookings (who) VALUES ('second')"))
        done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert not started.wait(0.2), "the second writer began while the first held the turn"
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert done.is_set()
    with engine.connect() as reader:
        assert reader.execute(text("SELECT who FROM bookings ORDER BY id")).scalars().all() == [
            "first",
            "second",
        ]


def test_a_rollback_ends_the_turn_too(engine, monkeypatch):
    # Were the turn still held, the second writer would give up after this long.
    monkeypatch.setattr(turns, "TURN_TIMEOUT", 0.5)
    first = writer(engine)
    first.begin()
    first.execute(text("INSERT INTO bookings (who) VALUES ('first')"))
    first.rollback()
    with writer(engine) as second, second.begin():  # while ``first`` stays open
        second.execute(text("INSERT INTO bookings (who) VALUES ('second')"))
    first.close()
    with engine.connect() as reader:
        assert reader.execute(text("SELECT who FROM bookings")).scalars().all() == ["second"]


def test_readers_never_take_a_turn(engine):
    first = writer(engine)
    first.begin()
    with engine.connect() as reader:  # deferred: reads on while the writer holds the turn
        assert reader.execute(text("SELECT count(*) FROM bookings")).scalar() == 0
    first.rollback()
    first.close()


def test_the_connection_gives_up_with_sqlites_error_after_the_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(turns, "TURN_TIMEOUT", 0.05)
    path = str(tmp_path / "x.db")
    holder = TurnTakingConnection(path)
    waiter = TurnTakingConnection(path)
    holder.take_turn(lock_path_for(path))
    with pytest.raises(turns.sqlite3.OperationalError, match="database is locked"):
        waiter.take_turn(lock_path_for(path))
    holder.close()
    waiter.take_turn(lock_path_for(path))  # closing the holder freed the turn
    waiter.close()


def test_the_lock_file_sits_beside_the_database_and_memory_needs_none(tmp_path):
    assert lock_path_for(str(tmp_path / "portal.db")) == f"{tmp_path / 'portal.db'}-writers.lock"
    assert lock_path_for(":memory:") is None
    assert lock_path_for("") is None
    assert not os.path.exists(tmp_path / "portal.db-writers.lock")
