"""``portal audit``: verify the hash chain, purge events past their retention."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import chain
from portal.audit import service as audit
from portal.clock import utcnow
from portal.extensions import db


@click.group("audit")
def audit_group() -> None:
    """Audit trail commands."""


def _business_ids(session, slug: str | None) -> list[int | None]:
    from portal.businesses.service import find_business

    if slug is None:
        return chain.chains(session)
    business = find_business(session, slug)
    if business is None:
        raise click.ClickException(f"There is no business with the slug {slug!r}.")
    return [business.id]


@audit_group.command("verify")
@click.option("--business", "slug", default=None, help="Slug of one business (default: all).")
@with_appcontext
def verify(slug: str | None) -> None:
    """Check the audit hash chain; exit 1 naming the first broken event on a gap or edit."""
    session = db.reader()
    try:
        broken = False
        for business_id in _business_ids(session, slug):
            label = f"business {business_id}" if business_id is not None else "platform"
            checked, fault = chain.verify(session, business_id)
            if fault is None:
                click.echo(f"{label}: {checked} events, chain intact.")
            else:
                broken = True
                click.echo(f"{label}: chain broken at {fault} ({checked} verified before it).")
    finally:
        session.close()
    if broken:
        raise SystemExit(1)


@audit_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@with_appcontext
def purge(dry_run: bool) -> None:
    """Remove audit events older than each business's audit retention (default 6 years).

    Independent of clean history. A checkpoint keeps the chain verifiable
    from the first remaining event; the purge itself is recorded.
    """
    session = db.writer()
    with session.begin():
        total = purge_expired(session, utcnow(), dry_run=dry_run, actor="portal audit purge")
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {total} audit event(s) past their retention.")


def purge_expired(session: Session, now: datetime, *, dry_run: bool, actor: str) -> int:
    """Remove (or count) every business's audit events past its retention; record each purge."""
    from portal.businesses.models import Business
    from portal.hipaa.service import compliance_settings

    total = 0
    for business_id in session.scalars(select(Business.id).order_by(Business.id)).all():
        days = compliance_settings(session, business_id).audit_retention_days
        cutoff = now - timedelta(days=days)
        if dry_run:
            total += chain.count_before(session, business_id, cutoff)
            continue
        removed = chain.purge_before(session, business_id, cutoff, now)
        if removed:
            audit.record(
                session,
                audit.AUDIT_PURGED,
                now,
                business_id=business_id,
                actor_kind="system",
                actor_label=actor,
                removed=removed,
                older_than=cutoff.isoformat(),
            )
        total += removed
    return total
