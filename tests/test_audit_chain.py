"""The audit trail: hash chain, verify, retention purge, owner's filters and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from portal.audit import chain
from portal.audit import service as audit
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.audit.service import Origin
from portal.cli import main
from portal.extensions import db as portal_db
from tests.conftest import NOW, OWNER_EMAIL, sign_in
from tests.factories import make_business

YEAR = timedelta(days=365)
TEST_SECRET_KEY = "test-secret-key-not-for-production"  # what app_env configures


def published_mac(event, prev_hash: str, key_material: str) -> str:
    """The seal as the documented algorithm computes it, from outside the code under test:
    HMAC-SHA256, key = HKDF-SHA256(key material, info "portal audit chain hmac-sha256 v1"),
    over the sorted, compact JSON of the event's fields and ``prev_hash``."""
    import hashlib
    import hmac
    import json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal audit chain hmac-sha256 v1"
    ).derive(key_material.encode())
    payload = {
        "business_id": event.business_id,
        "created_at": event.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "kind": event.kind,
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "details": event.details,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def add_events(business_id, count, start=NOW, step=timedelta(days=1)):
    with portal_db.writer() as writer, writer.begin():
        for index in range(count):
            audit.record(
                writer,
                audit.SETTINGS_CHANGED,
                start + index * step,
                business_id=business_id,
                actor_kind="system",
                actor_label="test",
                area="test",
                index=index,
            )


def verify(*args):
    return CliRunner().invoke(main, ["audit", "verify", *args])


def test_each_event_names_the_hash_of_the_previous_one_per_business(app, session, salon, clock):
    other = make_business(session, slug="other", name="Other Place")
    session.commit()
    add_events(salon.business.id, 3)
    add_events(other.id, 2)
    add_events(salon.business.id, 1)
    session.rollback()
    ours = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.business_id == salon.business.id)
            .order_by(AuditEvent.id)
        )
    )
    assert ours[0].prev_hash == ""
    for previous, event in zip(ours, ours[1:], strict=False):
        assert event.prev_hash == previous.hash
    for event in ours:
        assert event.hash == published_mac(event, event.prev_hash, TEST_SECRET_KEY)
    assert chain.verify(session, salon.business.id).checked == 4
    assert chain.verify(session, salon.business.id).fault is None
    assert chain.verify(session, other.id).checked == 2
    result = verify()
    assert result.exit_code == 0, result.output
    assert "chain intact" in result.output


def tamper(statement: str, event_id: int | None = None, **params) -> None:
    """Change the table behind the application's back, as someone with database access could.

    That person must also get past the append-only trigger: a PostgreSQL
    superuser by switching triggers off for the session, the owner of a SQLite
    file by dropping the triggers (and putting them back).
    """
    with portal_db.writer() as writer, writer.begin():
        triggers = []
        if writer.bind.dialect.name == "postgresql":
            writer.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            triggers = writer.execute(
                text(
                    "SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'trigger' AND tbl_name = 'audit_events'"
                )
            ).all()
            for name, _sql in triggers:
                writer.execute(text(f'DROP TRIGGER "{name}"'))
        writer.execute(text(statement), {"id": event_id, **params})
        for _name, sql in triggers:
            writer.execute(text(sql))


def test_verify_names_the_first_edited_event(app, session, salon, clock):
    add_events(salon.business.id, 4)
    session.rollback()
    ids = list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    tamper("UPDATE audit_events SET actor_label = 'someone else' WHERE id = :id", ids[1])
    result = verify("--business", "salon")
    assert result.exit_code == 1
    assert f"audit event {ids[1]}: its contents were changed" in result.output


def test_verify_detects_a_removed_event(app, session, salon, clock):
    add_events(salon.business.id, 4)
    session.rollback()
    ids = list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    tamper("DELETE FROM audit_events WHERE id = :id", ids[2])
    result = verify("--business", "salon")
    assert result.exit_code == 1
    assert f"audit event {ids[3]}: the previous event is missing" in result.output


def test_verify_refuses_an_unknown_business(app):
    result = verify("--business", "nope")
    assert result.exit_code != 0
    assert "no business with the slug" in result.output


def test_retention_purge_removes_old_events_and_the_chain_still_verifies(
    app, session, salon, clock
):
    # Events every 100 days from 7 years ago.
    start = NOW - 7 * YEAR
    add_events(salon.business.id, 26, start=start, step=timedelta(days=100))
    dry = CliRunner().invoke(main, ["audit", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    expected = sum(
        1 for i in range(26) if start + i * timedelta(days=100) < NOW - timedelta(days=2192)
    )
    assert f"Would remove {expected} " in dry.output
    result = CliRunner().invoke(main, ["audit", "purge"])
    assert result.exit_code == 0, result.output
    assert f"Removed {expected} " in result.output
    session.rollback()
    remaining = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert all(e.created_at >= NOW - timedelta(days=2192) for e in remaining)
    assert remaining[-1].kind == "audit.purged"
    checkpoint = session.scalars(select(AuditCheckpoint)).one()
    assert checkpoint.removed == expected
    assert remaining[0].prev_hash == checkpoint.last_hash
    assert verify("--business", "salon").exit_code == 0


def test_no_application_code_updates_or_deletes_audit_events():
    """Append-only: the one delete is the retention purge in portal/audit/chain.py."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "portal"
    offenders = []
    for path in root.rglob("*.py"):
        source = path.read_text()
        for needle in (
            "update(AuditEvent",
            "delete(AuditEvent",
            "UPDATE audit_events",
            "DELETE FROM audit_events",
        ):
            if needle in source and path.name != "chain.py":
                offenders.append(f"{path.name}: {needle}")
    assert offenders == []


@pytest.fixture
def postgresql_only(app):
    if not str(app.config["DATABASE_URL"]).startswith("postgresql"):
        pytest.skip("PostgreSQL-only trigger")


def test_postgresql_trigger_refuses_update_and_delete(app, session, salon, postgresql_only, clock):
    from sqlalchemy.exc import DBAPIError

    add_events(salon.business.id, 2)
    for statement in ("UPDATE audit_events SET kind = 'x'", "DELETE FROM audit_events"):
        with (
            portal_db.writer() as writer,
            pytest.raises(DBAPIError, match="append-only"),
            writer.begin(),
        ):
            writer.execute(text(statement))
    # The retention purge may delete, under its session setting.
    with portal_db.writer() as writer, writer.begin():
        removed = chain.purge_before(writer, salon.business.id, NOW + YEAR, NOW)
    assert removed == 2


# --- owner's audit page ------------------------------------------------------------


def test_owner_filters_by_user_kind_and_date_and_exports_csv(
    app, client, session, salon, owner, clock
):
    add_events(salon.business.id, 3, start=NOW - timedelta(days=10), step=timedelta(days=4))
    sign_in(client)
    page = client.get("/staff/audit?kind=settings.changed&from=2026-02-25&to=2026-03-01")
    assert page.status_code == 200
    # Only the event of 26 February (its raw details, behind the toggle, name its index).
    assert page.text.count("&#34;index&#34;: ") == 1
    assert client.get("/staff/audit?from=2026-13-01").status_code == 400
    assert client.get("/staff/audit?from=2026-03-02&to=2026-03-01").status_code == 400
    assert client.get("/staff/audit?kind=nope").status_code == 400
    page = client.get(f"/staff/audit?user={OWNER_EMAIL}")
    assert "signin.success" in page.text and "&#34;index&#34;: " not in page.text

    export = client.get("/staff/audit/export.csv?kind=settings.changed")
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:3] == ["id", "time_utc", "event"]
    assert len(rows) == 4
    session.rollback()
    exported = session.scalars(
        select(AuditEvent).where(AuditEvent.kind == audit.AUDIT_EXPORTED)
    ).one()
    assert exported.actor_label == OWNER_EMAIL
    assert exported.details["events"] == 3


def test_audit_export_quotes_every_cell_that_starts_like_a_formula(client, salon, owner, clock):
    """The same strict rule as the bookings export: "-1+1" and phone-like text are quoted too."""
    with portal_db.writer() as writer, writer.begin():
        audit.record(
            writer,
            audit.SETTINGS_CHANGED,
            NOW,
            business_id=salon.business.id,
            actor_kind="system",
            actor_label="-1+1",
            origin=Origin(ip_address="+49 30 1234567", user_agent="=HYPERLINK(0)"),
        )
    sign_in(client)
    export = client.get("/staff/audit/export.csv?kind=settings.changed")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(row["actor"], row["address"], row["browser"]) for row in rows] == [
        ("'-1+1", "'+49 30 1234567", "'=HYPERLINK(0)")
    ]
