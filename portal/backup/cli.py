"""``portal backup`` and ``portal restore``."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.audit import service as audit
from portal.backup import service
from portal.backup.archive import BackupError
from portal.clock import utcnow
from portal.extensions import db

KEY_ENV = "PORTAL_BACKUP_KEY"

_key_options = [
    click.option(
        "--key-env",
        default=KEY_ENV,
        show_default=True,
        help="Environment variable that holds the backup key.",
    ),
    click.option(
        "--key",
        default=None,
        help="The backup key itself (other users may see a command line: prefer --key-env).",
    ),
]


def _with_key_options(command):
    for option in reversed(_key_options):
        command = option(command)
    return command


def _key(key: str | None, key_env: str) -> str:
    key = key or os.environ.get(key_env, "")
    if not key:
        raise click.ClickException(
            f"No backup key: set {key_env} (or give --key). Keep the key apart from the "
            "backups, never in the same place."
        )
    return key


@click.command("backup")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to write (must not exist yet).",
)
@_with_key_options
@with_appcontext
def backup_command(out: Path, key_env: str, key: str | None) -> None:
    """Write an encrypted, consistent snapshot of the database to OUT.

    Bookings may go on being written meanwhile. The key (at least 16
    characters) comes from PORTAL_BACKUP_KEY or --key-env/--key and is never
    stored; without it the backup cannot be restored. SQLite is copied with
    its online backup API; PostgreSQL with pg_dump, whose major version must
    be at least the server's.
    """
    try:
        written = service.backup(
            current_app.config["DATABASE_URL"], out, _key(key, key_env), utcnow(), _anchor_path()
        )
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    _record(
        audit.BACKUP_TAKEN,
        "portal backup",
        file=str(written.path.resolve()),
        database=written.database,
        revision=written.revision,
        size=written.size,
    )
    click.echo(
        f"Backup written to {written.path}: {written.database} database at schema revision "
        f"{written.revision}, {written.size} bytes before encryption."
    )


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_with_key_options
@with_appcontext
def restore_command(file: Path, key_env: str, key: str | None) -> None:
    """Restore the backup FILE into this instance's database, which must be new and empty.

    Run it before `portal db upgrade` on a new database. Start the restored
    instance with the same PORTAL_SECRET_KEY and PORTAL_ENCRYPTION_KEYS as the
    one backed up: they open 2FA secrets and seal the audit trail.
    """
    try:
        restored = service.restore(
            current_app.config["DATABASE_URL"], file, _key(key, key_env), utcnow(), _anchor_path()
        )
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = restored.manifest
    click.echo(
        f"Restored the backup taken at {manifest['taken_at']} "
        f"({manifest['database']}, schema revision {manifest['revision']})."
    )
    if restored.replaced_anchor is not None:
        click.echo(
            f"This instance's earlier audit anchor is kept as {restored.replaced_anchor}: it "
            "describes the database before the restore, including events recorded after the "
            "backup was taken, which the restored database does not hold."
        )
    _seal_legacy_events()
    _record(
        audit.BACKUP_RESTORED,
        "portal restore",
        file=str(file.resolve()),
        taken_at=manifest["taken_at"],
        revision=manifest["revision"],
        replaced_anchor=str(restored.replaced_anchor or ""),
    )
    _check_audit_trail()


def _anchor_path() -> Path:
    return current_app.extensions["portal_audit"].anchor_path


def _record(kind: str, actor: str, **details) -> None:
    """A platform audit event for what this command did (its own transaction)."""
    session = db.writer()
    with session, session.begin():
        audit.record(
            session,
            kind,
            utcnow(),
            business_id=None,
            actor_kind="system",
            actor_label=actor,
            **details,
        )


def _seal_legacy_events() -> None:
    """Seal the events of a backup from before the keyed chain, as ``portal db upgrade`` does."""
    from portal.audit.cli import seal_legacy_now
    from portal.audit.sealing import ChainBroken

    try:
        if sealed := seal_legacy_now(as_found=False, actor="portal restore"):
            click.echo(f"Sealed the older audit events of {len(sealed)} chain(s).")
    except ChainBroken as error:
        click.echo(f"Audit events from before the keyed chain were not sealed: {error}")


def _check_audit_trail() -> None:
    """Say whether the restored audit trail verifies under this instance's keys and anchor."""
    from portal.audit import anchor, chain

    setup = current_app.extensions["portal_audit"]
    anchors = anchor.read(setup.anchor_path)
    session = db.reader()
    try:
        faults = []
        for business_id in anchor.chains_to_check(session, anchors):
            report = chain.verify(
                session, business_id, setup.keyring, anchor=anchors.get(business_id)
            )
            if report.fault is not None:
                faults.append((business_id, report.fault))
    finally:
        session.close()
    for business_id, fault in faults:
        label = "platform" if business_id is None else f"business {business_id}"
        click.echo(f"Warning: the audit chain of {label} does not verify: {fault}.")
    if faults:
        click.echo(
            "Start this instance with the PORTAL_SECRET_KEY and PORTAL_ENCRYPTION_KEYS of the "
            "one backed up (they seal the audit trail), then run portal audit verify."
        )
    else:
        click.echo("The restored audit trail verifies.")
