"""Database engine, sessions and the shared declarative base."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from portal.sqlite_turns import TurnTakingConnection, lock_path_for

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC and always returned as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Larger ids exist nowhere and overflow the database's integer type: a URL naming one is a 404.
MAX_ID = 2**31 - 1

SQLITE_BEGIN_OPTION = "sqlite_begin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    """WAL, foreign keys, a busy timeout, and transactions whose BEGIN we control.

    pysqlite's own transaction handling defers BEGIN and cannot take the write
    lock up front; booking needs ``BEGIN IMMEDIATE`` so that the overlap check
    and the insert happen under one lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    lock_path = lock_path_for(engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        dbapi_connection = connection.connection.dbapi_connection
        takes_turn = mode == "IMMEDIATE" and lock_path is not None
        if takes_turn:
            dbapi_connection.take_turn(lock_path)
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except Exception:
            if takes_turn:
                dbapi_connection.end_turn()
            raise


_CACHE_KEY = "portal_transaction_cache"


def transaction_cache(session: Session, name: str) -> dict:
    """A dict that lives as long as the session's current transaction.

    For settings rows that several hooks of one request read (and that are
    often missing, which the identity map cannot remember).
    """
    return session.info.setdefault(_CACHE_KEY, {}).setdefault(name, {})


@event.listens_for(Session, "after_transaction_end")
def _forget_transaction_cache(session: Session, _transaction) -> None:
    session.info.pop(_CACHE_KEY, None)


def make_engine(url: str, *, foreign_keys: bool = True) -> Engine:
    """Create an engine for ``url`` with the settings Portal relies on.

    ``foreign_keys=False`` is for migrations only: SQLite alters a table by
    copying it, which would trip over the references to it.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": 30,
                "factory": TurnTakingConnection,
            },
        )
        _configure_sqlite(engine, foreign_keys=foreign_keys)
        return engine
    return create_engine(url, pool_pre_ping=True)


def writes(view):
    """Declare that ``view`` changes data.

    Its request's transaction takes SQLite's write lock at BEGIN (``BEGIN
    IMMEDIATE``), so a check and the insert that depends on it cannot
    interleave with another writer. Every view that accepts a POST says so
    (``tests/test_unit_of_work.py`` checks the route table); a view that only
    reads and must record something uses ``Database.record`` instead.
    """
    view.portal_writes = True
    return view


def _declared_writer() -> bool:
    if not has_request_context() or request.endpoint is None:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "portal_writes", False)


class Database:
    """Binds one engine and a request-scoped unit of work to a Flask app.

    One request, one transaction, committed in one place: after the view (or a
    request hook that answers instead of it) returns, ``_finish`` writes what
    ``record`` was given and commits; e-mails are outbox rows of the same
    transaction (``portal.mail.outbox``). A view or hook that raises leaves
    nothing but what ``record`` was given: the transaction is rolled back
    before the error page is rendered. Views and hooks never call ``commit()`` or ``rollback()``; domain functions flush and
    raise, and a refusal that must leave a trace (a late cancellation) is
    recorded by the domain and returned as a page, not raised.

    Views declared with ``@writes`` get a session whose SQLite transactions
    begin ``IMMEDIATE``; on PostgreSQL the option is ignored and row locks do
    that job.
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._writer_engine: Engine | None = None
        self._readers: sessionmaker[Session] | None = None
        self._writers: sessionmaker[Session] | None = None
        self._engines: list[Engine] = []

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self._engines.append(self.engine)
        self._writer_engine = self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._readers = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = sessionmaker(self._writer_engine, expire_on_commit=False)
        app.extensions["portal_db"] = self
        self._wrap_dispatch(app)
        # Close after each request, and after app contexts used outside requests
        # (an app context may outlive several requests, as in tests).
        app.teardown_request(self._close_session)
        app.teardown_appcontext(self._close_session)

    def _wrap_dispatch(self, app: Flask) -> None:
        """Make the view and the request hooks one unit of work (see the class docstring)."""
        preprocess, dispatch = app.preprocess_request, app.dispatch_request

        def preprocess_request():
            answer = self._unit_of_work(preprocess)
            return answer if answer is None else self._finish(answer)

        def dispatch_request():
            return self._finish(self._unit_of_work(dispatch))

        app.preprocess_request = preprocess_request
        app.dispatch_request = dispatch_request

    def dispose_all(self) -> None:
        """Close the connection pools of every app this object was bound to (tests, CLI)."""
        while self._engines:
            self._engines.pop().dispose()

    @property
    def session(self) -> Session:
        """The session of the current app context, opened on first use."""
        if "db_session" not in g:
            g.db_session = (self._writers if _declared_writer() else self._readers)()
        return g.db_session

    def reader(self) -> Session:
        """A new session whose transactions start deferred (for reads and tests)."""
        return self._readers()

    def writer(self) -> Session:
        """A new session that takes the write lock at BEGIN (for CLI jobs and tests)."""
        return self._writers()

    def write_transaction(self) -> AbstractContextManager[Connection]:
        """A Core connection in a write transaction (committed at the end of the block).

        For a worker's small, frequent updates, where a Session would cost more
        than the statement.
        """
        return self._writer_engine.begin()

    def writer_connection(self) -> Connection:
        """A Core connection whose transactions (``connection.begin()``) take the write lock.

        For a worker that writes many small transactions in a row: one
        connection for all of them, not a checkout from the pool for each.
        """
        return self._writer_engine.connect()

    def record(self, write: Callable[[Session], object]) -> None:
        """Have ``write(session)`` run at the end of the request, however it ends.

        The one path for a request that reads and must still record
        something: the audit event of a page view or an export, the touch of
        a sign-in session. It stands even when the view fails (an audit trail
        records what was tried). In a writing request that ends well it joins
        the transaction; otherwise it runs in a short write transaction of its
        own after the reads, so a GET never holds SQLite's write lock while it
        renders.
        """
        g.setdefault("db_records", []).append(write)

    def _unit_of_work(self, step: Callable[[], object]):
        try:
            return step()
        except BaseException:
            # Undo before the error page renders: it reads in a clean transaction.
            records = g.pop("db_records", [])
            self._discard()
            if records:
                self._write_despite_failure(records)
            self._read_from_now_on()
            raise

    def _write_despite_failure(self, records: list[Callable[[Session], object]]) -> None:
        session = self.session
        try:
            session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            for write in records:
                write(session)
            session.commit()
        except Exception:
            # The request's own error is the one to answer; this one is logged.
            log.exception("could not record what a failed request did")
            session.rollback()

    def _finish(self, answer):
        records = g.pop("db_records", [])
        session = g.get("db_session")
        if session is None and not records:
            return answer
        session = self.session
        try:
            if records and not _declared_writer():
                session.commit()  # end the reads; the records take the write lock briefly
                session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            for write in records:
                write(session)
            session.commit()
        except BaseException:
            self._discard()
            if records:
                self._write_despite_failure(records)
            raise
        self._read_from_now_on()
        return answer

    @staticmethod
    def _read_from_now_on() -> None:
        """What reads after the unit of work (error pages, after-request hooks) begins deferred: it must not take the write lock again, and what it might
        write is rolled back when the session closes."""
        session = g.get("db_session")
        if session is not None and _declared_writer():
            session.connection(execution_options={SQLITE_BEGIN_OPTION: "DEFERRED"})

    @staticmethod
    def _discard() -> None:
        g.pop("db_records", None)
        session = g.get("db_session")
        if session is not None:
            session.rollback()

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
