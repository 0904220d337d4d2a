"""Keyed audit chain: a key id per event and checkpoint, SQLite append-only triggers, permits

Revision ID: a9c1e0000016
Revises: a9c1e0000015
Create Date: 2026-12-07 07:10:00

Events recorded before this revision keep their unkeyed hashes (key_id "") and
are reported as not sealed until ``portal audit seal-legacy`` seals them with
the app's key; ``portal db upgrade`` runs it right after migrating, because a
migration has no app configuration and so no key.
"""

import sqlalchemy as sa
from alembic import op

revision = "a9c1e0000016"
down_revision = "a9c1e0000015"
branch_labels = None
depends_on = None

#: Columns a re-sealing must leave as they are (only prev_hash, hash and key_id change).
_CONTENT = (
    "id",
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

_PG_GUARD = """
CREATE OR REPLACE FUNCTION portal_audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(current_setting('portal.audit_retention', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE'
       AND coalesce(current_setting('portal.audit_sealing', true), '') = 'on'
       AND ({new}) IS NOT DISTINCT FROM ({old}) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
""".format(
    # json has no equality operator; its text is what the seal covers anyway.
    new=", ".join(f"NEW.{c}::text" if c == "details" else f"NEW.{c}" for c in _CONTENT),
    old=", ".join(f"OLD.{c}::text" if c == "details" else f"OLD.{c}" for c in _CONTENT),
)

# The function as revision a6c1e0000006 created it.
_PG_GUARD_BEFORE = """
CREATE OR REPLACE FUNCTION portal_audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(current_setting('portal.audit_retention', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

# SQLite has no session settings: the one row of audit_write_permits, which the purge
# and a re-sealing flip and reset inside their own transaction, says what is allowed.
_SQLITE_DELETE_GUARD = """
CREATE TRIGGER audit_events_append_only_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_write_permits WHERE id = 1 AND retention = 1)
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END
"""
_SQLITE_UPDATE_GUARD = """
CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_write_permits WHERE id = 1 AND sealing = 1)
  OR {changed}
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END
""".format(changed=" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _CONTENT))  # noqa: S608


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    # A plain ADD COLUMN: audit_events is never copied (it has triggers on PostgreSQL).
    op.add_column(
        "audit_events",
        sa.Column("key_id", sa.String(length=16), nullable=False, server_default=""),
    )
    # Retention checkpoints are sealed too (seal-legacy seals the ones already there).
    op.add_column(
        "audit_checkpoints",
        sa.Column("mac", sa.String(length=64), nullable=False, server_default=""),
    )
    op.add_column(
        "audit_checkpoints",
        sa.Column("key_id", sa.String(length=16), nullable=False, server_default=""),
    )
    permits = op.create_table(
        "audit_write_permits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("retention", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("sealing", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_write_permits_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_write_permits")),
    )
    op.bulk_insert(permits, [{"id": 1, "retention": False, "sealing": False}])
    if _sqlite():
        op.execute(_SQLITE_DELETE_GUARD)
        op.execute(_SQLITE_UPDATE_GUARD)
    else:
        op.execute(_PG_GUARD)


def downgrade() -> None:
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only_delete")
    else:
        op.execute(_PG_GUARD_BEFORE)
    op.drop_table("audit_write_permits")
    op.drop_column("audit_checkpoints", "key_id")
    op.drop_column("audit_checkpoints", "mac")
    # Keyed seals read as unkeyed hashes that no longer match: the chain reports them.
    op.drop_column("audit_events", "key_id")
