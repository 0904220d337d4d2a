"""Scheduled jobs take a lock that two hosts (two connections, two engines) both see."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from portal.db import make_engine
from portal.jobs.locks import JobLocked, job_lock


@pytest.fixture
def two_hosts(database_url):
    """Two engines on one database, as two app hosts running cron would have."""
    engines = [make_engine(database_url), make_engine(database_url)]
    yield engines
    for engine in engines:
        engine.dispose()


def test_a_second_holder_is_refused_while_the_first_holds_the_job_lock(two_hosts):
    first, second = two_hosts
    with (
        job_lock(first, "purge-history"),
        pytest.raises(JobLocked),
        job_lock(second, "purge-history"),
    ):
        pass
    # Released: the other host may run it now.
    with job_lock(second, "purge-history"):
        pass


def test_different_jobs_do_not_block_each_other(two_hosts):
    first, second = two_hosts
    held = []
    with job_lock(first, "purge-history"):
        with job_lock(second, "another-job"):
            held.append("another-job")
        # ...while the same job on the other host is still refused.
        with pytest.raises(JobLocked), job_lock(second, "purge-history"):
            held.append("purge-history twice")
    assert held == ["another-job"]


def test_of_two_hosts_starting_together_exactly_one_runs(two_hosts, database_backend):
    ran: list[int] = []
    refused: list[int] = []
    start_together = threading.Barrier(2)
    holding = threading.Event()

    def run(host: int) -> None:
        start_together.wait()
        try:
            with job_lock(two_hosts[host], "purge-history"):
                ran.append(host)
                holding.wait(timeout=5)
        except JobLocked:
            refused.append(host)
            holding.set()

    threads = [threading.Thread(target=run, args=(host,)) for host in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(ran) == 1 and len(refused) == 1
    if database_backend == "postgresql":
        # The lock is a PostgreSQL advisory lock, so hosts sharing only the database see it.
        with two_hosts[0].connect() as connection:
            assert (
                connection.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
                ).scalar()
                == 0
            )
