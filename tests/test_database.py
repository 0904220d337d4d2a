"""The embedded SQLite database runs in WAL mode with foreign keys enforced."""

from sqlalchemy import text

from portal.extensions import db as portal_db


def test_sqlite_connections_use_wal_and_enforce_foreign_keys(app):
    with portal_db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_write_requests_take_the_write_lock_at_begin(app):
    statements: list[str] = []

    from sqlalchemy import event

    @event.listens_for(portal_db.engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.test_request_context("/", method="POST"):
        portal_db.session.execute(text("SELECT 1"))
    with app.test_request_context("/", method="GET"):
        portal_db.session.execute(text("SELECT 1"))
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]
