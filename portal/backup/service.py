"""Writing a backup file of the database, and restoring one into an empty database.

The audit anchor (``instance/audit-anchor.log``, the chain heads kept outside
the database) travels with the snapshot: it is read just before the snapshot
is taken, so every head in it is one the snapshot holds, and a restore writes
it as the new instance's anchor. An anchor the target instance already had
describes the database that was lost (with events the backup cannot hold),
so it is kept beside the new one under another name rather than compared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alembic.script import ScriptDirectory

from portal.audit import anchor
from portal.audit.chain import Head
from portal.backup import archive, databases
from portal.backup.archive import BackupError
from portal.migrate import alembic_config, upgrade


@dataclass(frozen=True)
class Written:
    path: Path
    database: str
    revision: str | None
    size: int


@dataclass(frozen=True)
class Restored:
    manifest: dict
    #: Where the target instance's earlier audit anchor was kept, if it had one.
    replaced_anchor: Path | None


def backup(
    database_url: str, out: Path, key: str, now: datetime, anchor_path: Path | None = None
) -> Written:
    """Write an encrypted snapshot of ``database_url`` to ``out`` (which must not exist yet)."""
    archive.check_key(key)
    kind = databases.kind_of(database_url)
    # Before the snapshot: an anchored head is always one the snapshot then holds.
    anchored = list(anchor.read(anchor_path).values()) if anchor_path else []
    if kind == "sqlite":
        data, revision = databases.sqlite_snapshot(database_url)
        chunks, notes = [data], {"revision": revision}
    else:
        chunks, notes = databases.postgres_snapshot(database_url)
    manifest = {
        "format": 1,
        "database": kind,
        "taken_at": now.isoformat(),
        "audit_anchor": [_head_json(head) for head in anchored],
        **notes,
    }
    partial = out.with_name(out.name + ".partial")
    try:
        # Readable by the operator only, and never half-written under the final name.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{partial} exists: is another backup running?") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            size = archive.write(handle, key, manifest, chunks)
            handle.flush()
            os.fsync(handle.fileno())
        if out.exists():
            raise BackupError(f"{out} already exists; choose a new file name.")
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)
    return Written(out, kind, manifest["revision"], size)


def restore(
    database_url: str, source: Path, key: str, now: datetime, anchor_path: Path | None = None
) -> Restored:
    """Restore the backup file ``source`` into the new, empty database and its audit anchor."""
    kind = databases.kind_of(database_url)
    with source.open("rb") as handle:
        reader = archive.Reader(handle, key)
        manifest = reader.manifest
        if manifest.get("database") != kind:
            raise BackupError(
                f"This is a backup of a {manifest.get('database')} database; "
                f"restore it into a {manifest.get('database')} database, not {kind}."
            )
        _check_revision(manifest.get("revision"))
        if kind == "sqlite":
            databases.sqlite_restore(database_url, reader.chunks())
        else:
            databases.postgres_restore(database_url, reader.chunks())
    # A backup from an older Portal is brought up to this version's schema.
    upgrade(database_url)
    replaced = None
    if anchor_path is not None:
        replaced = _restore_anchor(anchor_path, manifest, now)
    return Restored(manifest, replaced)


def _head_json(head: Head) -> dict:
    return {
        "business_id": head.business_id,
        "events": head.events,
        "last_event_id": head.last_event_id,
        "last_mac": head.last_mac,
    }


def _restore_anchor(path: Path, manifest: dict, now: datetime) -> Path | None:
    """Make the backup's anchor this instance's; keep an earlier one under another name."""
    replaced = None
    if path.exists() and path.stat().st_size:
        replaced = path.with_name(f"{path.name}.before-restore-{now:%Y%m%dT%H%M%SZ}")
        path.rename(replaced)
    heads = [
        Head(entry["business_id"], entry["events"], entry["last_event_id"], entry["last_mac"])
        for entry in manifest.get("audit_anchor", [])
    ]
    anchor.write(
        path, heads, reason=f"restore of the backup taken at {manifest['taken_at']}", now=now
    )
    return replaced


def _check_revision(revision: str | None) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(""))
    known = {script.revision for script in scripts.walk_revisions()}
    if revision not in known:
        raise BackupError(
            f"The backup's schema revision {revision!r} is unknown to this Portal version; "
            "restore it with the Portal version that made it (or a newer one)."
        )
