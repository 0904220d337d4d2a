"""``portal worker`` and ``portal outbox``: the task queue's consumer and the outbox by hand."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option(
    "--threads", default=2, show_default=True, type=click.IntRange(1, 32), help="Worker threads."
)
@with_appcontext
def worker(threads: int) -> None:
    """Deliver the outbox and run the periodic jobs (reminders, agendas, purges).

    Runs until stopped (SIGTERM or Ctrl-C finish the running tasks first).
    Several workers may run, on one host or many: each message is sent once
    per attempt, and each periodic job runs under the cross-host job lock.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = current_app._get_current_object()
    storage = "Redis" if app.config.get("REDIS_URL") else app.config["TASKS_PATH"]
    click.echo(f"Portal worker: {threads} thread(s), task queue in {storage}")
    app.extensions["portal_queue"].consumer(threads=threads).run()


@click.group("outbox")
def outbox_group() -> None:
    """The queue of outgoing messages."""


@outbox_group.command("deliver")
@with_appcontext
def deliver() -> None:
    """Send every message that is due now, once, and say how it went (for cron or a check)."""
    from portal.mail.outbox import deliver_due

    report = deliver_due(current_app._get_current_object())
    click.echo(
        f"Sent {report.sent}, to retry {report.retried}, failed {report.failed}, "
        f"dropped {report.dropped} (no longer applicable)."
    )
