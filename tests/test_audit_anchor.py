"""An audit trail that cannot be quietly rewritten: keyed seals, the anchor, the triggers.

Each test plays someone who can write the database but holds neither the
encryption key nor the instance folder, and shows ``portal audit verify``
exits 1 for what they did.
"""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from portal import create_app
from portal.audit import chain, sealing
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.cli import main
from portal.extensions import db as portal_db
from tests.conftest import NOW
from tests.test_audit_chain import TEST_SECRET_KEY, add_events, published_mac, tamper

YEAR = timedelta(days=365)
SEALED = (
    "business_id",
    "created_at",
    "kind",
    "actor_kind",
    "actor_id",
    "actor_label",
    "ip_address",
    "user_agent",
    "details",
)


def published_checkpoint_mac(checkpoint, prev_mac: str, key_material: str) -> str:
    """A checkpoint's seal as documented: the events' HMAC key, over the sorted compact JSON
    of its fields, a ``record`` name and the chain's previous checkpoint seal."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal audit chain hmac-sha256 v1"
    ).derive(key_material.encode())
    payload = {
        "record": "retention checkpoint",
        "business_id": checkpoint.business_id,
        "created_at": checkpoint.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "last_event_id": checkpoint.last_event_id,
        "last_hash": checkpoint.last_hash,
        "removed": checkpoint.removed,
        "prev_mac": prev_mac,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def verify(*args):
    return CliRunner().invoke(main, ["audit", "verify", *args])


def salon_events(session, business_id):
    session.rollback()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.business_id == business_id).order_by(AuditEvent.id)
        )
    )


def anchor_lines(app):
    path = app.extensions["portal_audit"].anchor_path
    return [json.loads(line) for line in path.read_text().splitlines()]


def forge_from(events, start: int, key_material: str, *, key_id: str | None = None) -> None:
    """Edit ``events[start]`` and re-seal it and every later event with the published algorithm."""
    prev = events[start - 1].hash if start else ""
    for index, event in enumerate(events[start:]):
        fields = {name: getattr(event, name) for name in SEALED}
        if index == 0:
            fields["actor_label"] = "someone else"
        mac = published_mac(SimpleNamespace(**fields), prev, key_material)
        tamper(
            "UPDATE audit_events SET actor_label = :label, prev_hash = :prev, hash = :mac, "
            "key_id = :key_id WHERE id = :id",
            event.id,
            label=fields["actor_label"],
            prev=prev,
            mac=mac,
            key_id=key_id or event.key_id,
        )
        prev = mac


# -- truncation ---------------------------------------------------------------------------


def test_removing_the_last_events_is_reported_against_the_anchor(app, session, salon, clock):
    add_events(salon.business.id, 5)
    first = verify()
    assert first.exit_code == 0, first.output
    anchored = [line for line in anchor_lines(app) if line["business_id"] == salon.business.id]
    assert anchored[-1]["events"] == 5
    ids = [event.id for event in salon_events(session, salon.business.id)]
    tamper("DELETE FROM audit_events WHERE id >= :id", ids[3])

    result = verify("--business", "salon")

    assert result.exit_code == 1
    assert f"audit event {ids[4]}: it is missing" in result.output
    assert "removed from the end" in result.output
    # The broken chain is not anchored again: the next verify still reports it.
    assert verify("--business", "salon").exit_code == 1


def test_removing_every_event_of_a_business_is_reported(app, session, salon, clock):
    add_events(salon.business.id, 2)
    assert verify().exit_code == 0
    tamper("DELETE FROM audit_events WHERE business_id = :id", salon.business.id)
    result = verify()
    assert result.exit_code == 1
    assert f"business {salon.business.id}: chain broken" in result.output


def test_removing_the_first_events_behind_a_forged_retention_checkpoint_is_reported(
    app, session, salon, clock
):
    """Passing a deletion off as the retention purge needs a checkpoint sealed with the key."""
    add_events(salon.business.id, 4)
    assert verify().exit_code == 0
    events = salon_events(session, salon.business.id)
    tamper("DELETE FROM audit_events WHERE id <= :id", events[1].id)
    forged = AuditCheckpoint(
        business_id=salon.business.id,
        created_at=NOW,
        last_hash=events[1].hash,
        last_event_id=events[1].id,
        removed=2,
        key_id=events[1].key_id,
    )
    forged.mac = published_checkpoint_mac(forged, "", "a key the attacker made up")
    with portal_db.writer() as writer, writer.begin():
        writer.add(forged)
        writer.flush()
        forged_id = forged.id

    result = verify("--business", "salon")

    assert result.exit_code == 1
    assert f"retention checkpoint {forged_id} was changed or forged" in result.output
    assert "chain intact" not in result.output


# -- re-sealing -----------------------------------------------------------------------------


def test_an_edit_resealed_with_a_wrong_key_is_reported(app, session, salon, clock):
    add_events(salon.business.id, 4)
    events = salon_events(session, salon.business.id)
    forge_from(events, 1, "a key the attacker made up")

    result = verify("--business", "salon")

    assert result.exit_code == 1
    assert f"audit event {events[1].id}: its contents were changed" in result.output
    assert "or its seal was forged" in result.output


def test_a_seal_naming_an_unknown_key_is_reported(app, session, salon, clock):
    add_events(salon.business.id, 3)
    events = salon_events(session, salon.business.id)
    forge_from(events, 2, "another made-up key", key_id="0123456789ab")
    result = verify("--business", "salon")
    assert result.exit_code == 1
    assert f"audit event {events[2].id}: its seal names key 0123456789ab" in result.output


def test_an_anchored_event_resealed_even_with_the_real_key_is_reported(app, session, salon, clock):
    """Should the key leak later, the anchor still shows the chain was sealed anew."""
    add_events(salon.business.id, 4)
    assert verify().exit_code == 0
    events = salon_events(session, salon.business.id)
    forge_from(events, 1, TEST_SECRET_KEY)
    assert chain.verify(session, salon.business.id).fault is None  # the seals alone pass

    result = verify("--business", "salon")

    assert result.exit_code == 1
    assert f"audit event {events[-1].id}: it was sealed anew" in result.output


# -- blank and old hashes --------------------------------------------------------------------


def test_a_chain_of_blank_hashes_is_not_intact(app, session, salon, clock):
    add_events(salon.business.id, 3)
    tamper(
        "UPDATE audit_events SET hash = '', prev_hash = '', key_id = '' WHERE business_id = :id",
        salon.business.id,
    )
    result = verify("--business", "salon")
    assert result.exit_code == 1
    assert "it has no seal (a blank hash never counts as verified)" in result.output
    assert "chain intact" not in result.output


def make_legacy(session, business_id) -> list[AuditEvent]:
    """Turn the chain into what revision a9c1e0000016 finds: blank hashes, then SHA-256 ones."""
    import hashlib

    events = salon_events(session, business_id)
    prev = ""
    for index, event in enumerate(events):
        if index == 0:
            tamper(
                "UPDATE audit_events SET hash = '', prev_hash = '', key_id = '' WHERE id = :id",
                event.id,
            )
            continue
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
            "prev_hash": prev,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        tamper(
            "UPDATE audit_events SET hash = :h, prev_hash = :p, key_id = '' WHERE id = :id",
            event.id,
            h=digest,
            p=prev,
        )
        prev = digest
    return events


def test_old_events_are_sealed_once_and_the_sealing_is_recorded(app, session, salon, clock):
    add_events(salon.business.id, 3)
    make_legacy(session, salon.business.id)
    before = verify("--business", "salon")
    assert before.exit_code == 1
    assert "it has no seal" in before.output

    sealed = CliRunner().invoke(main, ["audit", "seal-legacy"])

    assert sealed.exit_code == 0, sealed.output
    events = salon_events(session, salon.business.id)
    assert events[-1].kind == "audit.sealed_legacy"
    assert events[-1].details["sealed"] == 3
    assert events[-1].details["unhashed"] == 1
    assert events[-1].details["as_found"] is False
    assert all(event.key_id for event in events)
    assert verify("--business", "salon").exit_code == 0
    # Once: a second run finds nothing to seal.
    again = CliRunner().invoke(main, ["audit", "seal-legacy"])
    assert "Sealed 0 chain(s)" in again.output


def test_old_events_whose_hashes_do_not_check_out_are_not_sealed(app, session, salon, clock):
    add_events(salon.business.id, 3)
    events = make_legacy(session, salon.business.id)
    tamper("UPDATE audit_events SET actor_label = 'edited' WHERE id = :id", events[2].id)
    refused = CliRunner().invoke(main, ["audit", "seal-legacy"])
    assert refused.exit_code == 1
    assert f"audit event {events[2].id}: its contents were changed" in refused.output
    assert verify("--business", "salon").exit_code == 1
    as_found = CliRunner().invoke(main, ["audit", "seal-legacy", "--as-found"])
    assert as_found.exit_code == 0, as_found.output
    recorded = salon_events(session, salon.business.id)[-1]
    assert recorded.kind == "audit.sealed_legacy"
    assert recorded.details["as_found"] is True


def legacy_sha256(fields: dict, prev_hash: str) -> str:
    """The unkeyed hash events carried before revision a9c1e0000016."""
    import hashlib

    payload = {**fields, "prev_hash": prev_hash}
    payload["created_at"] = fields["created_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_db_upgrade_seals_the_events_and_checkpoints_from_before_the_keyed_chain(
    app_env, empty_database_url, monkeypatch
):
    """The real path: a database at revision a9c1e0000015, then ``portal db upgrade``."""
    import sqlalchemy as sa

    from portal.db import UTCDateTime
    from portal.migrate import upgrade

    monkeypatch.setenv("PORTAL_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")
    upgrade(empty_database_url, "a9c1e0000015")
    checkpoints = sa.table(
        "audit_checkpoints",
        *(sa.column(name) for name in ("business_id", "last_hash", "last_event_id", "removed")),
        sa.column("created_at", UTCDateTime()),
    )
    events = sa.table(
        "audit_events",
        *(sa.column(name) for name in SEALED if name not in ("created_at", "details")),
        sa.column("created_at", UTCDateTime()),
        sa.column("details", sa.JSON()),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    purged_hash = "ab" * 32  # the hash of the last event an old purge removed
    prev, rows = purged_hash, []
    for index in range(3):
        fields = {
            "business_id": None,
            "created_at": NOW + timedelta(minutes=index),
            "kind": "signin.failure",
            "actor_kind": "anonymous",
            "actor_id": None,
            "actor_label": f"nobody{index}@example.com",
            "ip_address": "192.0.2.1",
            "user_agent": "old",
            "details": {"index": index},
        }
        digest = legacy_sha256(fields, prev)
        rows.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                checkpoints.insert(),
                [{"business_id": None, "created_at": NOW, "last_hash": purged_hash,
                  "last_event_id": 7, "removed": 7}],
            )  # fmt: skip
            connection.execute(events.insert(), rows)
    finally:
        engine.dispose()

    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"])
    portal_db.dispose_all()

    assert upgraded.exit_code == 0, upgraded.output
    assert "Sealed the older audit events of 1 chain(s)" in upgraded.output
    verified = runner.invoke(main, ["audit", "verify"])
    portal_db.dispose_all()
    assert verified.exit_code == 0, verified.output
    assert "platform: 4 events, chain intact" in verified.output
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            kind, details = connection.execute(
                sa.text("SELECT kind, details FROM audit_events ORDER BY id DESC LIMIT 1")
            ).one()
            unsealed = connection.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM audit_events WHERE key_id = '') "
                    "+ (SELECT count(*) FROM audit_checkpoints WHERE key_id = '')"
                )
            ).scalar()
    finally:
        engine.dispose()
    details = json.loads(details) if isinstance(details, str) else details
    assert kind == "audit.sealed_legacy"
    assert (details["sealed"], details["checkpoints"], details["as_found"]) == (3, 1, False)
    assert unsealed == 0
    # Once: upgrading again seals nothing more.
    again = runner.invoke(main, ["db", "upgrade"])
    portal_db.dispose_all()
    assert again.exit_code == 0, again.output
    assert "Sealed the older" not in again.output


# -- key rotation ----------------------------------------------------------------------------


def test_resealing_with_the_newest_key_after_a_rotation(app, session, salon, clock):
    add_events(salon.business.id, 4)
    with portal_db.writer() as writer, writer.begin():
        assert chain.purge_before(writer, salon.business.id, NOW + timedelta(hours=1), NOW) == 1
    assert verify().exit_code == 0
    rotated = create_app({"ENCRYPTION_KEYS": f"a brand new key,{TEST_SECRET_KEY}"})
    with portal_db.writer() as writer, writer.begin():
        resealed = sealing.reseal_with_newest_key(writer, NOW, actor="test")
    assert resealed == 3
    events = salon_events(session, salon.business.id)
    assert events[-1].kind == "audit.resealed"
    newest = rotated.extensions["portal_audit"].keyring.newest[0]
    assert {event.key_id for event in events} == {newest}
    assert session.scalars(select(AuditCheckpoint.key_id)).all() == [newest]
    # The anchor moved with it (after the commit), so verify under the new keys passes.
    anchored = [line for line in anchor_lines(rotated) if line["business_id"] == salon.business.id]
    assert anchored[-1]["reason"] == "reseal"
    only_new = create_app({"ENCRYPTION_KEYS": "a brand new key"})
    with only_new.app_context():
        assert CliRunner().invoke(main, ["audit", "verify"]).exit_code == 0
    assert (
        chain.verify(session, salon.business.id, only_new.extensions["portal_audit"].keyring).fault
        is None
    )
    old_only = app.extensions["portal_audit"].keyring
    assert "not configured" in str(chain.verify(session, salon.business.id, old_only).fault)


def test_resealing_refuses_a_broken_chain_and_changes_nothing(app, session, salon, clock):
    add_events(salon.business.id, 3)
    forge_from(salon_events(session, salon.business.id), 1, "made up")
    forged = [(e.hash, e.key_id) for e in salon_events(session, salon.business.id)]
    create_app({"ENCRYPTION_KEYS": f"a brand new key,{TEST_SECRET_KEY}"})
    with pytest.raises(sealing.ChainBroken), portal_db.writer() as writer, writer.begin():
        sealing.reseal_with_newest_key(writer, NOW)
    assert [(e.hash, e.key_id) for e in salon_events(session, salon.business.id)] == forged


# -- the periodic anchor ---------------------------------------------------------------------


def test_the_worker_anchors_moved_heads_and_not_a_truncated_chain(app, session, salon, clock):
    run = app.extensions["portal_queue"].periodic_jobs["audit-anchor"]
    add_events(salon.business.id, 3)
    run()
    lines = anchor_lines(app)
    assert [(line["events"], line["reason"]) for line in lines] == [(3, "worker")]
    run()
    assert len(anchor_lines(app)) == 1  # nothing moved, nothing written
    add_events(salon.business.id, 2)
    run()
    assert anchor_lines(app)[-1]["events"] == 5
    ids = [event.id for event in salon_events(session, salon.business.id)]
    tamper("DELETE FROM audit_events WHERE id = :id", ids[-1])
    run()
    assert len(anchor_lines(app)) == 2
    assert verify().exit_code == 1


# -- the triggers ----------------------------------------------------------------------------


def test_the_database_refuses_update_and_delete_but_the_purge_still_works(
    app, session, salon, clock
):
    """SQLite's triggers (and PostgreSQL's): nothing but the retention purge deletes."""
    add_events(salon.business.id, 2)
    for statement in (
        "UPDATE audit_events SET kind = 'x'",
        "UPDATE audit_events SET hash = 'x'",
        "DELETE FROM audit_events",
    ):
        with (
            portal_db.writer() as writer,
            pytest.raises((DBAPIError, IntegrityError), match="append-only"),
            writer.begin(),
        ):
            writer.execute(text(statement))
    with portal_db.writer() as writer, writer.begin():
        removed = chain.purge_before(writer, salon.business.id, NOW + YEAR, NOW)
    assert removed == 2
    # The permit ended with the purge's transaction.
    add_events(salon.business.id, 1)
    with (
        portal_db.writer() as writer,
        pytest.raises((DBAPIError, IntegrityError), match="append-only"),
        writer.begin(),
    ):
        writer.execute(text("DELETE FROM audit_events"))


def test_the_hipaa_checklist_says_what_protects_the_log_on_this_database(app, session, salon):
    from portal.hipaa.service import checklist

    with app.test_request_context():
        audit_line = checklist(session, salon.business.id, https=True)[-1]
    backend = session.get_bind().dialect.name
    if backend == "postgresql":
        assert "a PostgreSQL trigger refuses changes and deletions" in audit_line.detail
        assert "a database superuser can switch it off" in audit_line.detail
    else:
        assert "a SQLite trigger refuses changes and deletions" in audit_line.detail
    assert "sealed with a key the database does not hold" in audit_line.detail
    assert "written to a file outside the database" in audit_line.detail
