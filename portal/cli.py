"""The ``portal`` command: a Flask CLI group with Portal's own commands."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from portal import create_app
from portal.businesses.service import BusinessError, create_business
from portal.clock import utcnow
from portal.extensions import db


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_default_commands=True)
def main() -> None:
    """Portal: a self-hosted booking portal for small service businesses."""


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply the schema migrations up to REVISION (the latest by default)."""
    from portal.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database is at revision {revision}.")
    if revision == "head":
        _seal_old_audit_events()


def _seal_old_audit_events() -> None:
    """Seal audit events from before the keyed chain: a migration has no key to do it."""
    from portal.audit.cli import seal_legacy_now
    from portal.audit.sealing import ChainBroken

    try:
        done = seal_legacy_now(as_found=False, actor="portal db upgrade")
    except ChainBroken as error:
        click.echo(f"Audit events from before the keyed chain were not sealed: {error}")
        click.echo("Run `portal audit verify`, then `portal audit seal-legacy` when settled.")
        return
    if done:
        click.echo(f"Sealed the older audit events of {len(done)} chain(s) with the current key.")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert the schema migrations down to REVISION (e.g. base)."""
    from portal.migrate import downgrade

    downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database is at revision {revision}.")


@main.command("demo")
@with_appcontext
def demo() -> None:
    """Load the demo business (slug "demo") unless it is already there.

    The owner's password is PORTAL_DEMO_PASSWORD when set; otherwise one is
    generated and printed once, when the demo is created.
    """
    from portal.demo import DEMO_OWNER_EMAIL, load_demo

    session = db.writer()
    with session.begin():
        result = load_demo(
            session,
            utcnow().date(),
            owner_password=os.environ.get("PORTAL_DEMO_PASSWORD") or None,
        )
    url = f"{current_app.config['BASE_URL']}/b/{result.business.slug}/"
    if result.created:
        click.echo(f"Demo business created: {url}")
        click.echo(f"Demo owner: {DEMO_OWNER_EMAIL}  password: {result.owner_password}")
    else:
        click.echo(f"Demo business already present (data kept): {url}")
        click.echo(
            f"Demo owner: {DEMO_OWNER_EMAIL}  (password as printed when the demo was created,"
            " or PORTAL_DEMO_PASSWORD)"
        )


@main.command("create-business")
@click.option("--slug", required=True, help="Short name used in URLs, e.g. my-salon.")
@click.option("--name", required=True, help="The business's display name.")
@click.option(
    "--timezone", "timezone_name", required=True, help="IANA timezone, e.g. Europe/Berlin."
)
@click.option("--locale", default="en", show_default=True, help="Default language (en or de).")
@with_appcontext
def create_business_command(slug: str, name: str, timezone_name: str, locale: str) -> None:
    """Create a new, empty business."""
    session = db.writer()
    try:
        with session.begin():
            business = create_business(
                session, slug=slug, name=name, timezone=timezone_name, locale=locale
            )
    except BusinessError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {business.name}: {current_app.config['BASE_URL']}/b/{business.slug}/")


@main.command("create-staff")
@click.option("--business", "slug", required=True, help="Slug of the business.")
@click.option("--email", required=True, help="The staff member's e-mail address (their login).")
@click.option("--name", default="", help="Display name.")
@click.option("--role", type=click.Choice(["owner", "staff"]), default="staff", show_default=True)
@click.password_option(
    "--password", envvar="PORTAL_NEW_STAFF_PASSWORD", help="Asked for when not given."
)
@with_appcontext
def create_staff_command(slug: str, email: str, name: str, role: str, password: str) -> None:
    """Create a staff user (or owner) who signs in at /staff/login.

    The password must meet the business's password rules.
    """
    from portal.accounts.service import AccountError, PasswordRejected, create_staff_user
    from portal.audit import service as audit
    from portal.businesses.service import find_business

    session = db.writer()
    try:
        with session.begin():
            business = find_business(session, slug)
            if business is None:
                raise click.ClickException(f"There is no business with the slug {slug!r}.")
            user = create_staff_user(
                session, business, email=email, password=password, role=role, name=name
            )
            audit.record(
                session,
                audit.STAFF_CREATED,
                utcnow(),
                business_id=business.id,
                actor_kind="system",
                actor_label="portal create-staff",
                created=user.email,
                role=user.role,
            )
    except PasswordRejected as rejected:
        raise click.ClickException("Password refused: " + " ".join(rejected.problems)) from None
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {user.role} {user.email} at {business.name}.")


@main.command("rotate-keys")
@with_appcontext
def rotate_keys_command() -> None:
    """Re-encrypt every secret at rest under the newest key of PORTAL_ENCRYPTION_KEYS.

    Put the new key first in PORTAL_ENCRYPTION_KEYS (keeping the old one after
    it), restart, run this, then remove the old key. One transaction.
    """
    from portal.audit.sealing import ChainBroken
    from portal.key_rotation import rotate_keys
    from portal.secret_box import encryption_keys

    session = db.writer()
    try:
        with session.begin():
            rotation = rotate_keys(session, encryption_keys(current_app.config), utcnow())
    except ChainBroken as error:
        raise click.ClickException(
            f"Nothing was changed: the audit trail does not verify with the configured keys "
            f"({error}). If the old key was removed, put it back after the new one in "
            "PORTAL_ENCRYPTION_KEYS and run this again; otherwise see portal audit verify."
        ) from None
    for label, count in rotation.resealed.items():
        click.echo(f"Re-encrypted {count} {label}.")
    click.echo(f"Re-sealed {rotation.audit_events} audit events with the newest key.")
    for label, count in rotation.unreadable.items():
        if count:
            click.echo(f"Warning: no configured key opens {count} {label}; left as they were.")


def _register_feature_commands() -> None:
    from portal.retention.cli import export_history, purge_history

    main.add_command(purge_history)
    main.add_command(export_history)

    from portal.accounts.cli import reset_2fa_command
    from portal.audit.cli import audit_group
    from portal.support.cli import create_support_user, unlock_support_user

    main.add_command(reset_2fa_command)
    main.add_command(audit_group)
    main.add_command(create_support_user)
    main.add_command(unlock_support_user)

    from portal.backup.cli import backup_command, restore_command

    main.add_command(backup_command)
    main.add_command(restore_command)

    from portal.jobs.cli import outbox_group, worker

    main.add_command(worker)
    main.add_command(outbox_group)


_register_feature_commands()
