"""The purge as a job: every business with clean history on, under the job lock.

Run from ``portal purge-history`` (cron, a systemd timer) or, with
``PORTAL_SCHEDULER=on``, once a day from a background thread of the app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from flask import Flask
from flask_babel import force_locale

from portal.businesses.models import Business
from portal.clock import utcnow
from portal.jobs.locks import JobLocked, job_lock
from portal.retention import service as retention

PURGE_JOB = "purge-history"
log = logging.getLogger(__name__)


class NoSuchBusiness(retention.RetentionError):
    pass


def run_purge(
    database,
    now: datetime,
    *,
    slug: str | None = None,
    dry_run: bool = False,
    progress: Callable[[Business, int], Callable[[int], None] | None] | None = None,
) -> list[retention.PurgeResult]:
    """Purge each business with clean history on (or only ``slug``); raises JobLocked.

    Its refusals are for the operator, so they are in English.
    """
    with force_locale("en"), job_lock(database.engine, PURGE_JOB):
        with database.reader() as session:
            if slug is not None:
                business = session.query(Business).filter_by(slug=slug).one_or_none()
                if business is None:
                    raise NoSuchBusiness(f"There is no business with the slug {slug!r}.")
                targets = [business]
            else:
                targets = retention.businesses_with_clean_history(session)
            totals = {b.id: retention.purgeable_total(session, b, now) for b in targets}
        results = []
        for business in targets:
            on_batch = progress(business, totals[business.id]) if progress else None
            results.append(
                retention.purge_business(
                    database.writer, business.id, now, dry_run=dry_run, on_batch=on_batch
                )
            )
        return results


SCHEDULER_INTERVAL_SECONDS = 24 * 3600


def start_scheduler(
    app: Flask, *, interval: float = SCHEDULER_INTERVAL_SECONDS
) -> threading.Thread:
    """Run the purge every ``interval`` seconds in a daemon thread of this process.

    Several processes may each run one: the job lock lets one purge at a time
    and the others skip that round.
    """
    database = app.extensions["portal_db"]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                for result in run_purge(database, utcnow()):
                    log.info("purged %s bookings of %s", result.bookings, result.slug)
            except JobLocked:
                log.info("purge skipped: another run holds the lock")
            except Exception:
                log.exception("scheduled purge failed")

    thread = threading.Thread(target=loop, name="portal-scheduler", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
