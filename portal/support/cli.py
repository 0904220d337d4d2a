"""``portal create-support-user``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal.clock import utcnow
from portal.extensions import db


@click.command("create-support-user")
@click.option("--email", required=True, help="The support user's e-mail address (their login).")
@click.option("--name", default="", help="Display name.")
@click.password_option(
    "--password", envvar="PORTAL_NEW_SUPPORT_PASSWORD", help="Asked for when not given."
)
@with_appcontext
def create_support_user(email: str, name: str, password: str) -> None:
    """Create a platform support user; prints the authenticator secret to enrol once.

    Support users belong to no business; they sign in at /support/login with
    password and code, and may open a business's staff area only where the
    owner allows it.
    """
    from portal.accounts import totp
    from portal.accounts.current import secret_box
    from portal.accounts.service import AccountError
    from portal.support.service import create_support_user as create

    session = db.writer()
    try:
        with session.begin():
            user, secret = create(session, email, password, secret_box(), utcnow(), name=name)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created support user {user.email}.")
    click.echo(f"Authenticator secret (shown once): {totp.format_secret(secret)}")
    click.echo(totp.provisioning_uri(secret, user.email, "Portal support"))


@click.command("unlock-support-user")
@click.argument("email")
@with_appcontext
def unlock_support_user(email: str) -> None:
    """Lift the lock of the platform support account with EMAIL.

    Support accounts lock after failed sign-ins as staff accounts do, and
    belong to no business whose owner could unlock them; the lock also
    lifts by itself when its time is up. Recorded in the audit log.
    """
    from portal.accounts.service import AccountError
    from portal.support.service import unlock_support_user as unlock

    session = db.writer()
    try:
        with session.begin():
            user = unlock(session, email, utcnow())
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Unlocked support user {user.email}.")
