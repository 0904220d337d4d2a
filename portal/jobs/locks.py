"""A lock that keeps two runs of one job apart, across processes and hosts.

PostgreSQL: a session-level advisory lock held on a dedicated connection,
so every host sharing the database sees it. SQLite: an exclusive ``flock``
on a file next to the database file, which every process on the host (the
only place a SQLite database can be shared) sees. Either way the lock goes
away with the process if it dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text


class JobLocked(Exception):
    """Another run of the job holds the lock."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Another {name} run is in progress (it holds the job lock); "
            "this run stopped without doing anything. Try again when it has finished."
        )
        self.name = name


def _lock_key(name: str) -> int:
    """A signed 64-bit key for ``pg_try_advisory_lock`` derived from the job name."""
    digest = hashlib.sha256(f"portal-job:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file_path(engine: Engine, name: str) -> Path:
    """Where the SQLite lock of job ``name`` lives: beside the database file."""
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValueError("a job lock needs a file database")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return Path(database).resolve().with_name(f"{Path(database).name}.{safe}.lock")


@contextmanager
def job_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock of job ``name`` for the ``with`` block; raise JobLocked if taken."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name):
            yield
        return
    with _file_lock(lock_file_path(engine, name), name):
        yield


@contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[None]:
    key = _lock_key(name)
    with engine.connect() as connection:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        if not taken.scalar():
            connection.rollback()
            raise JobLocked(name)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


@contextmanager
def _file_lock(path: Path, name: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobLocked(name) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
