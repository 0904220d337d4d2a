"""Taking a consistent snapshot of the database, and putting one into an empty database.

SQLite: the online backup API copies the whole file in one step, under one
read transaction, so bookings written meanwhile (WAL lets them go on) are
either all in the snapshot or not at all. PostgreSQL: ``pg_dump`` reads in
one repeatable-read transaction; its major version must be at least the
server's, which is checked first so the message says what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.backup.archive import BackupError

READ_BYTES = 1024 * 1024


def kind_of(database_url: str) -> str:
    backend = make_url(database_url).get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {backend}.")
    return backend


# SQLite ---------------------------------------------------------------------------------


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(database)


def sqlite_snapshot(database_url: str) -> tuple[bytes, str | None]:
    """The whole database as bytes, and its schema revision, as of one instant."""
    path = _sqlite_path(database_url)
    if not path.exists():
        raise BackupError(f"There is no database at {path}.")
    source = sqlite3.connect(path, timeout=30)
    snapshot = sqlite3.connect(":memory:")
    try:
        source.backup(snapshot)  # every page in one step: one read transaction, one instant
        return _rollback_journal(snapshot.serialize()), _sqlite_revision(snapshot)
    finally:
        source.close()
        snapshot.close()


def _rollback_journal(image: bytes) -> bytes:
    """The database image marked as using a rollback journal, not WAL.

    Bytes 18 and 19 of the header are the file format versions, 2 for WAL; an
    image marked so cannot be opened in memory. The app turns WAL on again.
    """
    if image[18:20] == b"\x02\x02":
        return image[:18] + b"\x01\x01" + image[20:]
    return image


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def sqlite_restore(database_url: str, chunks: Iterable[bytes]) -> None:
    """Write the snapshot into the (new or empty) SQLite file of ``database_url``."""
    path = _sqlite_path(database_url)
    if path.exists() and path.stat().st_size:
        existing = sqlite3.connect(path, timeout=30)
        try:
            tables = existing.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        finally:
            existing.close()
        if tables:
            raise BackupError(
                f"The database {path} is not empty; restore only into a new, empty database."
            )
    snapshot = sqlite3.connect(":memory:")
    try:
        snapshot.deserialize(_rollback_journal(b"".join(chunks)))
        if snapshot.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("The database in the backup fails SQLite's integrity check.")
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        target = sqlite3.connect(path, timeout=30)
        try:
            snapshot.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        snapshot.close()


# PostgreSQL -----------------------------------------------------------------------------


def _libpq_env(database_url: str) -> dict[str, str]:
    """The connection as libpq environment variables: no password on a command line."""
    url = make_url(database_url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host or url.query.get("host")),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
        ("PGSSLMODE", url.query.get("sslmode")),
    ):
        if value:
            env[name] = str(value)
    return env


def _server_major(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    finally:
        engine.dispose()
    return number // 10000


def _tool(name: str, server_major: int) -> tuple[str, int]:
    """The ``pg_dump``/``pg_restore`` to use and its major version, or why there is none fit."""
    candidates = [f"/usr/lib/postgresql/{server_major}/bin/{name}", shutil.which(name)]
    found = next((c for c in candidates if c and Path(c).exists()), None)
    if found is None:
        raise BackupError(
            f"{name} is not installed; install the PostgreSQL {server_major} client "
            f"(Debian: apt-get install postgresql-client-{server_major})."
        )
    output = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        [found, "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    major = int(match.group(1)) if match else 0
    if major < server_major:
        raise BackupError(
            f"{name} is version {major} but the server runs PostgreSQL {server_major}; "
            f"install postgresql-client-{server_major}."
        )
    return found, major


def postgres_snapshot(database_url: str) -> tuple[Iterator[bytes], dict]:
    """``pg_dump``'s custom-format archive as a stream of bytes, and what to note about it."""
    server_major = _server_major(database_url)
    pg_dump, client_major = _tool("pg_dump", server_major)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    notes = {"revision": revision, "server_major": server_major, "pg_dump_major": client_major}

    def stream() -> Iterator[bytes]:
        with (
            tempfile.TemporaryFile() as errors,
            subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
                [pg_dump, "--format=custom", "--no-owner", "--no-privileges"],
                stdout=subprocess.PIPE,
                stderr=errors,
                env=_libpq_env(database_url),
            ) as process,
        ):
            assert process.stdout is not None
            try:
                while piece := process.stdout.read(READ_BYTES):
                    yield piece
            except GeneratorExit:
                process.kill()  # the backup stopped early: pg_dump need not go on
                raise
            if process.wait():
                errors.seek(0)
                message = errors.read().decode(errors="replace").strip()
                raise BackupError(f"pg_dump failed: {message}")

    return stream(), notes


def postgres_restore(database_url: str, chunks: Iterable[bytes]) -> None:
    """Feed the archive to ``pg_restore`` into the (new, empty) database of ``database_url``."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(
                text(
                    "SELECT count(*) FROM information_schema.tables"
                    " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    if tables:
        raise BackupError(
            "The target database is not empty; restore only into a new, empty database."
        )
    pg_restore, _ = _tool("pg_restore", _server_major(database_url))
    # The whole archive is read, and so checked, before pg_restore sees any of it: a
    # backup cut off after its last data part must not restore and commit, then fail.
    with tempfile.TemporaryFile() as spool, tempfile.TemporaryFile() as errors:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        returncode = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            [
                pg_restore, "--no-owner", "--no-privileges", "--exit-on-error",
                "--single-transaction", "--dbname", _libpq_env(database_url)["PGDATABASE"],
            ],
            stdin=spool,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=_libpq_env(database_url),
            check=False,
        ).returncode  # fmt: skip
        if returncode:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise BackupError(f"pg_restore failed: {message}")
