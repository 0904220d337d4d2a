"""``portal audit``: verify and anchor the sealed chain, seal old events, purge past retention."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import anchor, chain, sealing
from portal.audit import service as audit
from portal.clock import utcnow
from portal.extensions import db


@click.group("audit")
def audit_group() -> None:
    """Audit trail commands."""


def _label(business_id: int | None) -> str:
    return f"business {business_id}" if business_id is not None else "platform"


def _business_ids(session, slug: str | None, anchors: dict) -> list[int | None]:
    from portal.businesses.service import find_business

    if slug is None:
        return anchor.chains_to_check(session, anchors)
    business = find_business(session, slug)
    if business is None:
        raise click.ClickException(f"There is no business with the slug {slug!r}.")
    return [business.id]


@audit_group.command("verify")
@click.option("--business", "slug", default=None, help="Slug of one business (default: all).")
@with_appcontext
def verify(slug: str | None) -> None:
    """Check each audit chain's seals and compare it with the anchor outside the database.

    Exits 1 naming the first broken event: an edit, a gap, a missing or forged
    seal, events removed from the end, or a chain sealed anew since it was
    anchored. Chains that check out are anchored again (instance/audit-anchor.log).
    """
    setup = current_app.extensions["portal_audit"]
    anchors = anchor.read(setup.anchor_path)
    session = db.reader()
    heads, broken = [], False
    try:
        for business_id in _business_ids(session, slug, anchors):
            label = _label(business_id)
            report = chain.verify(
                session, business_id, setup.keyring, anchor=anchors.get(business_id)
            )
            if report.fault is None:
                heads.append(report.head)
                note = " (matches the anchor)" if business_id in anchors else " (no anchor yet)"
                click.echo(f"{label}: {report.checked} events, chain intact{note}.")
            else:
                broken = True
                click.echo(
                    f"{label}: chain broken at {report.fault} "
                    f"({report.checked} verified before it)."
                )
    finally:
        session.close()
    anchor.write(setup.anchor_path, heads, reason="verify", now=utcnow())
    if broken:
        raise SystemExit(1)


@audit_group.command("anchor")
@with_appcontext
def anchor_command() -> None:
    """Write each chain's head to the anchor outside the database (the worker does it every 10 min).

    Checks the events since the last anchor first; exits 1 for a chain that
    does not check out, which is not anchored.
    """
    setup = current_app.extensions["portal_audit"]
    session = db.reader()
    try:
        faults = anchor.anchor_chains(session, setup, utcnow(), reason="anchor")
    finally:
        session.close()
    for business_id, fault in faults:
        click.echo(f"{_label(business_id)}: not anchored, chain broken at {fault}.")
    if faults:
        raise SystemExit(1)
    click.echo(f"Anchored in {setup.anchor_path}.")


@audit_group.command("seal-legacy")
@click.option(
    "--as-found",
    is_flag=True,
    help="Seal chains whose old hashes do not check out too (recorded as such).",
)
@with_appcontext
def seal_legacy_command(as_found: bool) -> None:
    """Seal events recorded before the chain was keyed, once, with the newest key.

    ``portal db upgrade`` runs this after migrating. Each sealing is recorded
    by an audit event; blank-hash events never count as verified until sealed.
    """
    try:
        done = seal_legacy_now(as_found=as_found, actor="portal audit seal-legacy")
    except sealing.ChainBroken as error:
        click.echo(f"Not sealed, a chain does not check out: {error}")
        click.echo("Look into it; --as-found seals it anyway and records that it did.")
        raise SystemExit(1) from None
    click.echo(f"Sealed {len(done)} chain(s) that held events from before the keyed chain.")


def seal_legacy_now(*, as_found: bool, actor: str) -> list[sealing.Sealed]:
    """Seal the old events in a transaction of its own (for ``portal db upgrade`` too)."""
    session = db.writer()
    with session, session.begin():
        return sealing.seal_legacy(session, utcnow(), as_found=as_found, actor=actor)


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
