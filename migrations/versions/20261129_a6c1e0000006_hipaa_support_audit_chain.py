"""HIPAA mode, platform support users, audit hash chain

Revision ID: a6c1e0000006
Revises: a5c1e0000005
Create Date: 2026-11-29 13:35:00
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "a6c1e0000006"
down_revision = "a5c1e0000005"
branch_labels = None
depends_on = None

KINDS_BEFORE = "account_kind IN ('staff', 'client')"
KINDS_AFTER = "account_kind IN ('staff', 'client', 'support')"

# Refuses UPDATE and DELETE on audit_events, except a DELETE by the audit
# retention purge, which sets ``SET LOCAL portal.audit_retention = 'on'``.
AUDIT_GUARD_FUNCTION = """
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
AUDIT_GUARD_TRIGGER = """
CREATE TRIGGER audit_events_append_only
BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION portal_audit_events_append_only()
"""


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "support_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enabled_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_users")),
        sa.UniqueConstraint("email", name=op.f("uq_support_users_email")),
    )
    op.create_table(
        "compliance_settings",
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("hipaa_mode", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("hipaa_changed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("support_access", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("audit_retention_days", sa.Integer(), server_default="2192", nullable=False),
        sa.CheckConstraint(
            "audit_retention_days BETWEEN 365 AND 36500",
            name=op.f("ck_compliance_settings_audit_retention"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_compliance_settings_business_id_businesses"),
        ),
        sa.PrimaryKeyConstraint("business_id", name=op.f("pk_compliance_settings")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_audit_checkpoints_business_id_businesses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_checkpoints_business_id"), ["business_id"], unique=False
        )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("hash", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.alter_column("business_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(op.f("ck_user_sessions_account_kind"), type_="check")
        batch_op.create_check_constraint("account_kind", KINDS_AFTER)
    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_one_time_tokens_account_kind"), type_="check")
        batch_op.create_check_constraint("account_kind", KINDS_AFTER)
    if _postgresql():
        op.execute(AUDIT_GUARD_FUNCTION)
        op.execute(AUDIT_GUARD_TRIGGER)


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS portal_audit_events_append_only()")
    # Support sessions and tokens cannot exist without the support kind.
    op.execute("DELETE FROM user_sessions WHERE account_kind = 'support'")
    op.execute("DELETE FROM one_time_tokens WHERE account_kind = 'support'")
    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_one_time_tokens_account_kind"), type_="check")
        batch_op.create_check_constraint("account_kind", KINDS_BEFORE)
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_user_sessions_account_kind"), type_="check")
        batch_op.create_check_constraint("account_kind", KINDS_BEFORE)
        batch_op.alter_column("business_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_business_id"))
    op.drop_table("audit_checkpoints")
    op.drop_table("compliance_settings")
    op.drop_table("support_users")
