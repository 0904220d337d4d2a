"""``portal backup`` takes a consistent, encrypted snapshot while bookings are being written.

Another process books without pause (each booking with its audit event) while
the backup runs. The backup is restored into a new, empty instance, which must
verify its audit chain, serve the booking page, and hold every booking that
was committed before the snapshot began, and only a gapless prefix of the
writer's bookings (a snapshot of one instant, not a copy torn mid-write).

Run as ``python -m tests.test_backup`` this file is that writer: it prints
each booking's id once it is committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from portal import create_app
from portal.audit.models import AuditEvent
from portal.backup import archive
from portal.booking.models import Booking
from portal.cli import main
from portal.extensions import db as portal_db
from tests.test_audit_chain import add_events

ROOT = Path(__file__).resolve().parent.parent
KEY = "correct horse battery staple 42"
#: How many bookings the writer commits before the backup starts.
BEFORE = 15


def write_bookings_until_stopped() -> None:
    """Book the salon's provider hour after hour, one transaction each, until killed."""
    from portal.audit import service as audit
    from portal.booking.service import ClientDetails, Consents, book
    from portal.businesses.service import find_business
    from portal.clock import utcnow

    app = create_app()
    with app.app_context():
        session = portal_db.writer()
        business = find_business(session, "salon")
        service, provider = business_service_and_provider(session, business)
        session.commit()  # end the lookup's transaction; each booking has its own
        first = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        number = 0
        while True:
            now = utcnow()
            with session.begin():
                booking, _ = book(
                    session,
                    business,
                    service,
                    provider,
                    first + timedelta(hours=number),
                    ClientDetails(f"Client {number}", f"client{number}@example.com", ""),
                    Consents(terms=None, policy=None, ip_address="192.0.2.1"),
                    now,
                    created_by="staff",
                    outside_rules=True,
                )
                audit.record(
                    session,
                    audit.BOOKING_CREATED_BY_STAFF,
                    now,
                    business_id=business.id,
                    actor_kind="system",
                    actor_label="backup test writer",
                    booking=booking.id,
                )
            print(booking.id, flush=True)
            number += 1


def business_service_and_provider(session, business):
    from portal.catalog.models import Provider, Service

    service = session.scalar(select(Service).where(Service.business_id == business.id))
    provider = session.scalar(select(Provider).where(Provider.business_id == business.id))
    return service, provider


@pytest.fixture
def writer(app_env, salon, tmp_path):
    """The booking writer, running in its own process on the test's database."""
    log = (tmp_path / "writer.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.test_backup"],
        cwd=ROOT,
        env={**os.environ, **app_env},
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()
    process.stdout.close()
    log.close()
    errors = (tmp_path / "writer.log").read_text()
    assert "Traceback" not in errors, errors


@pytest.fixture
def restored_env(app_env, empty_database_url, tmp_path, monkeypatch):
    """The environment of a new instance: same keys, its own empty database and folder."""
    env = {
        **app_env,
        "PORTAL_DATABASE_URL": empty_database_url,
        "PORTAL_INSTANCE_PATH": str(tmp_path / "restored"),
    }
    return env


def platform_event_kinds(connection) -> list[str]:
    return list(connection.scalars(select(AuditEvent.kind).where(AuditEvent.business_id.is_(None))))


def restored_app(env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app()


def test_a_backup_taken_while_booking_restores_every_booking_committed_before_it(
    app, writer, restored_env, monkeypatch, tmp_path
):
    committed_before = [int(writer.stdout.readline()) for _ in range(BEFORE)]
    # The chain heads so far go outside the database, as the worker does every ten minutes.
    anchored = app.test_cli_runner().invoke(main, ["audit", "anchor"])
    assert anchored.exit_code == 0, anchored.output
    monkeypatch.setenv("PORTAL_BACKUP_KEY", KEY)
    out = tmp_path / "portal.backup"

    taken = app.test_cli_runner().invoke(main, ["backup", "--out", str(out)])

    assert taken.exit_code == 0, taken.output
    assert writer.poll() is None  # it wrote all along
    writer.kill()
    writer.wait()
    written = committed_before + [int(line) for line in writer.stdout]
    assert out.stat().st_mode & 0o777 == 0o600
    assert b"Client 1" not in out.read_bytes()  # encrypted

    target = restored_app(restored_env, monkeypatch)
    restored = target.test_cli_runner().invoke(main, ["restore", str(out)])

    assert restored.exit_code == 0, restored.output
    assert "The restored audit trail verifies." in restored.output
    verified = target.test_cli_runner().invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    # The anchor taken before the backup came with it, and the restored chains match it.
    business_lines = [line for line in verified.output.splitlines() if line.startswith("business")]
    assert business_lines and all("(matches the anchor)" in line for line in business_lines)
    assert target.test_client().get("/b/salon/").status_code == 200
    engine = create_engine(restored_env["PORTAL_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            ids = sorted(connection.scalars(select(Booking.id)))
            restored_kinds = platform_event_kinds(connection)
    finally:
        engine.dispose()
    # Both commands are on the record: the backup in the instance it was taken from.
    assert "backup.restored" in restored_kinds
    assert "backup.taken" not in restored_kinds  # recorded after its snapshot
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            assert "backup.taken" in platform_event_kinds(connection)
    finally:
        engine.dispose()
    assert set(committed_before) <= set(ids)
    assert len(ids) < len(written)  # the writer went on committing after the snapshot
    # One instant: exactly the bookings committed up to some point, none after a gap.
    assert ids == written[: len(ids)]


def test_restoring_where_the_anchor_went_further_keeps_that_anchor_aside_and_verifies(
    app, salon, app_env, empty_database_url, monkeypatch, tmp_path
):
    """Disaster recovery: the database is lost, the instance folder and a backup are left.

    The instance's anchor records events written after the backup; compared with
    the restored database it would report them removed (verify exits 1). The
    restore keeps that anchor under another name, says so, and anchors the
    restored chains with the heads that were anchored when the backup was taken.
    """
    add_events(salon.business.id, 2)
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["audit", "anchor"]).exit_code == 0
    out = tmp_path / "portal.backup"
    assert runner.invoke(main, ["backup", "--out", str(out), "--key", KEY]).exit_code == 0
    add_events(salon.business.id, 3)  # after the backup: lost with the database
    assert runner.invoke(main, ["audit", "anchor"]).exit_code == 0
    anchor_path = app.extensions["portal_audit"].anchor_path
    lost_anchor = anchor_path.read_text()
    portal_db.dispose_all()
    same_instance = {**app_env, "PORTAL_DATABASE_URL": empty_database_url}
    target = restored_app(same_instance, monkeypatch)
    assert target.extensions["portal_audit"].anchor_path == anchor_path

    restored = target.test_cli_runner().invoke(main, ["restore", str(out), "--key", KEY])

    assert restored.exit_code == 0, restored.output
    kept = [path for path in anchor_path.parent.iterdir() if ".before-restore-" in path.name]
    assert len(kept) == 1 and kept[0].read_text() == lost_anchor
    assert f"earlier audit anchor is kept as {kept[0]}" in restored.output
    verified = target.test_cli_runner().invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "chain intact (matches the anchor)" in verified.output
    # What the earlier anchor would have said about the restored database:
    from portal.audit import anchor, chain

    business_id = salon.business.id
    with target.app_context():
        session = portal_db.reader()
        try:
            report = chain.verify(
                session,
                business_id,
                target.extensions["portal_audit"].keyring,
                anchor=anchor.read(kept[0])[business_id],
            )
        finally:
            session.close()
    assert report.fault is not None
    assert "events were removed" in report.fault.reason


def test_a_wrong_key_is_refused_with_a_clear_message(
    app, salon, restored_env, monkeypatch, tmp_path
):
    out = tmp_path / "portal.backup"
    monkeypatch.setenv("PORTAL_BACKUP_KEY", KEY)
    assert app.test_cli_runner().invoke(main, ["backup", "--out", str(out)]).exit_code == 0
    monkeypatch.setenv("PORTAL_BACKUP_KEY", "not the right key at all")
    target = restored_app(restored_env, monkeypatch)

    refused = target.test_cli_runner().invoke(main, ["restore", str(out)])

    assert refused.exit_code == 1
    assert "The key does not open this backup" in refused.output
    engine = create_engine(restored_env["PORTAL_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            assert not engine.dialect.get_table_names(connection)
    finally:
        engine.dispose()


def frame_bounds(data: bytes) -> list[tuple[int, int]]:
    """Where each encrypted part of a backup file starts and ends."""
    offset, bounds = len(archive.MAGIC) + archive.SALT_BYTES, []
    while offset < len(data):
        end = offset + 4 + int.from_bytes(data[offset : offset + 4], "big")
        bounds.append((offset, end))
        offset = end
    return bounds


def cut_off_after_the_data(data: bytes) -> bytes:
    return data[: frame_bounds(data)[-1][0]]


def one_byte_changed_in_the_data(data: bytes) -> bytes:
    start, end = frame_bounds(data)[1]
    middle = (start + 4 + end) // 2
    changed = b"B" if data[middle : middle + 1] == b"A" else b"A"
    return data[:middle] + changed + data[middle + 1 :]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (cut_off_after_the_data, "The backup file is incomplete (it ends too early)."),
        (one_byte_changed_in_the_data, "The backup file is damaged (a part fails its check)."),
    ],
)
def test_a_damaged_or_cut_off_backup_restores_nothing(
    app, salon, restored_env, monkeypatch, tmp_path, damage, message
):
    out = tmp_path / "portal.backup"
    assert (
        app.test_cli_runner().invoke(main, ["backup", "--out", str(out), "--key", KEY]).exit_code
        == 0
    )
    out.write_bytes(damage(out.read_bytes()))
    target = restored_app(restored_env, monkeypatch)

    refused = target.test_cli_runner().invoke(main, ["restore", str(out), "--key", KEY])

    assert refused.exit_code == 1
    assert message in refused.output
    engine = create_engine(restored_env["PORTAL_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            assert not engine.dialect.get_table_names(connection)
    finally:
        engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty(app, salon, monkeypatch, tmp_path):
    out = tmp_path / "portal.backup"
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["backup", "--out", str(out), "--key", KEY]).exit_code == 0

    refused = runner.invoke(main, ["restore", str(out), "--key", KEY])

    assert refused.exit_code == 1
    assert "is not empty; restore only into a new, empty database" in refused.output


def test_a_short_key_or_no_key_is_refused(app, monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_BACKUP_KEY", raising=False)
    runner = app.test_cli_runner()
    out = tmp_path / "portal.backup"

    missing = runner.invoke(main, ["backup", "--out", str(out)])
    short = runner.invoke(main, ["backup", "--out", str(out), "--key", "short"])

    assert missing.exit_code == 1
    assert "No backup key: set PORTAL_BACKUP_KEY" in missing.output
    assert short.exit_code == 1
    assert "at least 16 characters" in short.output
    assert not out.exists()


if __name__ == "__main__":
    write_bookings_until_stopped()
