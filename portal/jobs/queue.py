"""The task queue (huey) and the jobs the worker runs.

Storage: a SQLite file beside the app (``PORTAL_TASKS_PATH``) by default, one
host only; with ``PORTAL_REDIS_URL`` a Redis server that every host shares.
Requests only *nudge* the queue after they commit outbox rows; the worker
(``portal worker``) runs the nudges and the periodic jobs. The outbox rows,
not the queue, are the durable record: a lost nudge costs at most a minute,
until the next sweep.

Periodic jobs run in every worker's scheduler; each takes the cross-host job
lock (``portal.jobs.locks``), so two workers on two hosts never run the same
purge at once: the second finds the lock taken and skips its round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey

from portal.jobs.locks import JobLocked, job_lock

log = logging.getLogger(__name__)

SWEEP_JOB = "outbox-sweep"
REMINDER_JOB = "reminders"
AGENDA_JOB = "agenda"
PURGE_JOB = "purge-history"
AUDIT_RETENTION_JOB = "audit-retention"
AUDIT_ANCHOR_JOB = "audit-anchor"
OUTBOX_CLEANUP_JOB = "outbox-cleanup"
#: Sent messages keep their row (recipient, subject, time; no content) this long.
SENT_MESSAGES_KEPT = timedelta(days=30)


class TaskQueue:
    """The huey instance of one app, with the tasks bound to that app."""

    def __init__(self, app: Flask, huey: Huey) -> None:
        self.app = app
        self.huey = huey
        self._deliver = huey.task(name="deliver-outbox")(self._in_app(deliver_outbox))
        every_minute = crontab(minute="*")
        periodic = [
            (every_minute, SWEEP_JOB, deliver_outbox),
            (every_minute, REMINDER_JOB, send_reminders),
            (every_minute, AGENDA_JOB, send_agendas),
            # The audit chains' heads, outside the database (see portal.audit.anchor).
            (crontab(minute="*/10"), AUDIT_ANCHOR_JOB, anchor_audit_chains),
            # Once a day, at night in Europe, when few people book.
            (crontab(minute="17", hour="2"), PURGE_JOB, purge_history),
            (crontab(minute="47", hour="2"), AUDIT_RETENTION_JOB, purge_audit_events),
            (crontab(minute="7", hour="3"), OUTBOX_CLEANUP_JOB, forget_sent_messages),
        ]
        #: Each periodic job as the worker runs it (under its lock), by name.
        self.periodic_jobs: dict[str, Callable[[], None]] = {}
        for schedule, name, job in periodic:
            self.periodic_jobs[name] = self._locked(name, job)
            huey.periodic_task(schedule, name=name)(self.periodic_jobs[name])

    def nudge(self) -> None:
        """Ask a worker to deliver the outbox now (called after a commit added rows)."""
        self._deliver()

    def consumer(self, *, threads: int):
        return self.huey.create_consumer(
            workers=threads,
            worker_type="thread",
            periodic=True,
            # Without Redis the queue is polled: at least once a second, so a nudge
            # is picked up within a second even after a quiet hour.
            max_delay=1.0,
            # systemd stops services with SIGTERM: finish the running tasks first.
            graceful_signal="TERM",
        )

    def _in_app(self, job: Callable[[Flask], object]) -> Callable[[], None]:
        app = self.app

        def run() -> None:
            with app.app_context():
                job(app)

        run.__name__ = job.__name__
        return run

    def _locked(self, name: str, job: Callable[[Flask], object]) -> Callable[[], None]:
        app = self.app

        def run() -> None:
            with app.app_context():
                try:
                    with job_lock(app.extensions["portal_db"].engine, f"worker-{name}"):
                        job(app)
                except JobLocked:
                    log.info("%s skipped: another worker holds its lock", name)

        run.__name__ = name.replace("-", "_")
        return run


def build_queue(app: Flask) -> TaskQueue:
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        huey = RedisHuey("portal", url=redis_url, results=False)
    else:
        path = Path(app.config["TASKS_PATH"])
        path.parent.mkdir(parents=True, exist_ok=True)
        # No fsync: a nudge lost in a crash costs a minute (the sweep), never a message.
        huey = SqliteHuey("portal", filename=str(path), results=False, fsync=False)
    return TaskQueue(app, huey)


def deliver_outbox(app: Flask) -> None:
    from portal.mail.outbox import deliver_due

    report = deliver_due(app)
    if report.sent or report.retried or report.failed or report.dropped:
        log.info(
            "outbox: %s sent, %s to retry, %s failed, %s dropped",
            report.sent,
            report.retried,
            report.failed,
            report.dropped,
        )


def send_reminders(app: Flask) -> None:
    from portal.booking.reminders import queue_due_reminders
    from portal.clock import utcnow

    queue_due_reminders(app.extensions["portal_db"], utcnow())


def send_agendas(app: Flask) -> None:
    from portal.booking.agenda import queue_due_agendas
    from portal.clock import utcnow

    queue_due_agendas(app.extensions["portal_db"], utcnow())


def purge_history(app: Flask) -> None:
    from portal.clock import utcnow
    from portal.retention.jobs import run_purge

    for result in run_purge(app.extensions["portal_db"], utcnow()):
        log.info("purged %s bookings of %s", result.bookings, result.slug)


def purge_audit_events(app: Flask) -> None:
    from portal.audit.cli import purge_expired
    from portal.clock import utcnow

    session = app.extensions["portal_db"].writer()
    with session, session.begin():
        removed = purge_expired(session, utcnow(), dry_run=False, actor="portal worker")
    log.info("audit retention: removed %s event(s)", removed)


def anchor_audit_chains(app: Flask) -> None:
    from portal.audit.anchor import anchor_chains
    from portal.clock import utcnow

    session = app.extensions["portal_db"].reader()
    with session:
        anchor_chains(session, app.extensions["portal_audit"], utcnow(), reason="worker")


def forget_sent_messages(app: Flask) -> None:
    from portal.clock import utcnow
    from portal.mail.outbox import forget_sent

    session = app.extensions["portal_db"].writer()
    with session, session.begin():
        removed = forget_sent(session, utcnow() - SENT_MESSAGES_KEPT)
    log.info("outbox: forgot %s sent message(s)", removed)
