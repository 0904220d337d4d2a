"""Passkeys (WebAuthn) for staff and clients, their challenges, and the owner's passkey rules

Revision ID: a9c1e0000018
Revises: a9c1e0000017
Create Date: 2026-12-07 17:00:00
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "a9c1e0000018"
down_revision = "a9c1e0000017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passkeys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("business_id", sa.Integer(), sa.ForeignKey("businesses.id"), nullable=False),
        sa.Column(
            "staff_user_id", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="CASCADE")
        ),
        sa.Column(
            "client_account_id",
            sa.Integer(),
            sa.ForeignKey("client_accounts.id", ondelete="CASCADE"),
        ),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("user_handle", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.String(200), nullable=False),
        sa.Column("aaguid", sa.String(36), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", portal.db.UTCDateTime(timezone=True)),
        sa.CheckConstraint(
            "(staff_user_id IS NULL) <> (client_account_id IS NULL)",
            name=op.f("ck_passkeys_one_owner"),
        ),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    op.create_index(op.f("ix_passkeys_business_id"), "passkeys", ["business_id"])
    op.create_index(op.f("ix_passkeys_staff_user_id"), "passkeys", ["staff_user_id"])
    op.create_index(op.f("ix_passkeys_client_account_id"), "passkeys", ["client_account_id"])
    op.create_table(
        "passkey_challenges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("challenge_hash", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("binding_hash", sa.String(64), nullable=False),
        sa.Column("account_kind", sa.String(16)),
        sa.Column("account_id", sa.Integer()),
        sa.Column("business_id", sa.Integer()),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", portal.db.UTCDateTime(timezone=True)),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_passkey_challenges_challenge_hash")),
    )
    op.create_index(op.f("ix_passkey_challenges_expires_at"), "passkey_challenges", ["expires_at"])
    with op.batch_alter_table("security_settings") as batch:
        batch.add_column(
            sa.Column(
                "passkey_policy",
                sa.String(8),
                nullable=False,
                server_default=sa.text("'optional'"),
            )
        )
        batch.add_column(
            sa.Column(
                "client_passkeys_enabled",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch.create_check_constraint(
            "passkey_policy", "passkey_policy IN ('optional', 'owners', 'all')"
        )


def downgrade() -> None:
    with op.batch_alter_table("security_settings") as batch:
        batch.drop_constraint(op.f("ck_security_settings_passkey_policy"), type_="check")
        batch.drop_column("client_passkeys_enabled")
        batch.drop_column("passkey_policy")
    op.drop_table("passkey_challenges")
    op.drop_table("passkeys")
