"""The purge as a job: every business with clean history on, under the job lock.

Run once a day by the worker (``portal worker``), or from ``portal purge-history``
(cron, a systemd timer) where no worker runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask_babel import force_locale

from portal.businesses.models import Business
from portal.jobs.locks import job_lock
from portal.retention import service as retention

PURGE_JOB = "purge-history"


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
