"""Database engine, sessions and the shared declarative base."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from portal.sqlite_turns import TurnTakingConnection, lock_path_for

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


class Database:
    """Binds one engine and a request-scoped session to a Flask app.

    Requests that may write (anything but GET, HEAD and OPTIONS) get a session
    whose SQLite transactions start with ``BEGIN IMMEDIATE``: the write lock is
    held from the first statement, so a check and the insert that depends on it
    cannot interleave with another writer. On PostgreSQL the option is ignored
    and row locks do that job.
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._readers: sessionmaker[Session] | None = None
        self._writers: sessionmaker[Session] | None = None
        self._engines: list[Engine] = []

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self._engines.append(self.engine)
        writer_engine = self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._readers = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = sessionmaker(writer_engine, expire_on_commit=False)
        app.extensions["portal_db"] = self
        # Close after each request, and after app contexts used outside requests
        # (an app context may outlive several requests, as in tests).
        app.teardown_request(self._close_session)
        app.teardown_appcontext(self._close_session)

    def dispose_all(self) -> None:
        """Close the connection pools of every app this object was bound to (tests, CLI)."""
        while self._engines:
            self._engines.pop().dispose()

    @property
    def session(self) -> Session:
        """The session of the current app context, opened on first use."""
        if "db_session" not in g:
            writes = has_request_context() and request.method not in SAFE_METHODS
            g.db_session = (self._writers if writes else self._readers)()
        return g.db_session

    def reader(self) -> Session:
        """A new session whose transactions start deferred (for reads and tests)."""
        return self._readers()

    def writer(self) -> Session:
        """A new session that takes the write lock at BEGIN (for CLI jobs and tests)."""
        return self._writers()

    def commit(self) -> None:
        """Commit the request's work; queued e-mails go out after this succeeds."""
        self.session.commit()

    def read_from_now_on(self) -> None:
        """Begin the request session's next transaction deferred, after its writes committed.

        For the rest of a write request that only reads (writing the e-mails
        about what was saved): on SQLite it then no longer holds the write lock
        every other booking waits for.
        """
        self.session.connection(execution_options={SQLITE_BEGIN_OPTION: "DEFERRED"})

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
