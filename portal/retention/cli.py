"""``portal purge-history`` and ``portal export-history``."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask.cli import with_appcontext

from portal.businesses.service import find_business
from portal.clock import utcnow
from portal.extensions import db
from portal.jobs.locks import JobLocked
from portal.retention import export
from portal.retention import service as retention
from portal.retention.jobs import run_purge


def _on_terminal() -> bool:
    return sys.stderr.isatty()


@click.command("purge-history")
@click.option("--business", "slug", default=None, help="Only this business (its slug).")
@click.option("--dry-run", is_flag=True, help="Count and record what would go; delete nothing.")
@with_appcontext
def purge_history(slug: str | None, dry_run: bool) -> None:
    """Delete bookings older than each business's clean history period, for good.

    Runs over every business with clean history on (or only --business), in
    batches of a few thousand bookings per transaction, under a lock so two
    runs never overlap. Meant for cron or a systemd timer; see the README.
    """
    bars = []

    def progress(business, total):
        if not _on_terminal() or dry_run or not total:
            return None
        bar = click.progressbar(length=total, label=f"{business.slug}", file=sys.stderr)
        bar.__enter__()
        bars.append(bar)
        return bar.update

    try:
        results = run_purge(db, utcnow(), slug=slug, dry_run=dry_run, progress=progress)
    except JobLocked as locked:
        raise click.ClickException(
            "Another purge is running (it holds the purge-history lock). Nothing was deleted."
        ) from locked
    except retention.RetentionError as refused:
        raise click.ClickException(str(refused)) from refused
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)
    if not results:
        click.echo("No business has clean history on; nothing to do.")
    verb = "would delete" if dry_run else "deleted"
    for result in results:
        click.echo(
            f"{result.slug}: {verb} {result.bookings} bookings, {result.consents} consents, "
            f"{result.events} booking events, {result.clients} clients "
            f"(ended before {result.cutoff.isoformat()})."
        )


@click.command("export-history")
@click.option("--business", "slug", required=True, help="Slug of the business.")
@click.option(
    "--before",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only bookings starting before this day (business time), YYYY-MM-DD.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only bookings starting on or after this day, YYYY-MM-DD.",
)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def export_history(slug: str, before, since, out: Path) -> None:
    """Write a business's bookings as CSV (the same file as the Data page's download)."""
    from portal.audit import service as audit

    with db.reader() as session:
        business = find_business(session, slug)
        if business is None:
            raise click.ClickException(f"There is no business with the slug {slug!r}.")
        last = before.date() - timedelta(days=1) if before else None
        start, end = export.local_range(business, since.date() if since else None, last)
        total = export.count_rows(session, business.id, start, end)
    rows = export.booking_rows(db.reader, business, start, end)
    with out.open("w", newline="", encoding="utf-8") as handle:
        if _on_terminal():
            with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
                for chunk in export.csv_chunks(_counting(rows, bar.update)):
                    handle.write(chunk)
        else:
            for chunk in export.csv_chunks(rows):
                handle.write(chunk)
    with db.writer() as session, session.begin():
        audit.record(
            session,
            audit.DATA_EXPORTED,
            utcnow(),
            business_id=business.id,
            actor_kind="system",
            actor_label="portal export-history",
            what="bookings",
            rows=total,
            before=before.date().isoformat() if before else None,
        )
    click.echo(f"Wrote {total} bookings to {out}.")


def _counting(rows, update):
    for row in rows:
        yield row
        update(1)
