"""``portal reset-2fa``: the operator's way to turn off a staff user's two-factor sign-in."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal.accounts import service
from portal.audit import service as audit
from portal.clock import utcnow
from portal.extensions import db


@click.command("reset-2fa")
@click.argument("email")
@with_appcontext
def reset_2fa_command(email: str) -> None:
    """Turn off two-factor sign-in for the staff user or owner with EMAIL.

    For an owner who cannot sign in (a lost phone, or a set-up no configured
    encryption key opens): they sign in with their password and set it up
    again. Other staff can also be reset by an owner on the team page.
    """
    session = db.writer()
    with session.begin():
        user = service.find_staff(session, email)
        if user is None:
            raise click.ClickException(f"No staff user has the e-mail address {email}.")
        now = utcnow()
        service.clear_2fa(session, user, now)
        audit.record(
            session,
            audit.TWO_FACTOR_RESET,
            now,
            business_id=user.business_id,
            actor_kind="system",
            actor_label="portal reset-2fa",
            user=user.email,
        )
    click.echo(
        f"Two-factor sign-in is off for {user.email}; they set it up again after signing in."
    )
