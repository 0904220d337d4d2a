"""Clean history settings, gift cards, client erasure

Revision ID: a5c1e0000005
Revises: 93c9a321c11d
Create Date: 2026-11-29 13:35:00
"""

import sqlalchemy as sa
from alembic import op

import portal.db  # noqa: F401

revision = "a5c1e0000005"
down_revision = "93c9a321c11d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_settings",
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("period_amount", sa.Integer(), nullable=False, server_default="24"),
        sa.Column("period_unit", sa.String(length=8), nullable=False, server_default="months"),
        sa.Column("delete_orphan_clients", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("changed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_purge_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "period_unit IN ('days', 'months')", name=op.f("ck_retention_settings_period_unit")
        ),
        sa.CheckConstraint("period_amount >= 1", name=op.f("ck_retention_settings_period_amount")),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_retention_settings_business_id_businesses"),
        ),
        sa.PrimaryKeyConstraint("business_id", name=op.f("pk_retention_settings")),
    )
    op.create_table(
        "business_features",
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("feature", sa.String(length=32), nullable=False),
        sa.Column("enabled_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_business_features_business_id_businesses"),
        ),
        sa.PrimaryKeyConstraint("business_id", "feature", name=op.f("pk_business_features")),
    )
    op.create_table(
        "gift_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("value_cents", sa.Integer(), nullable=False),
        sa.Column("balance_cents", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "balance_cents >= 0 AND balance_cents <= value_cents",
            name=op.f("ck_gift_cards_balance"),
        ),
        sa.CheckConstraint("status IN ('active', 'void')", name=op.f("ck_gift_cards_status")),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_gift_cards_business_id_businesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_cards")),
        sa.UniqueConstraint("business_id", "code", name=op.f("uq_gift_cards_business_id")),
    )
    op.create_table(
        "gift_card_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("gift_card_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_gift_card_redemptions_amount")),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_gift_card_redemptions_booking_id_bookings"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_gift_card_redemptions_business_id_businesses"),
        ),
        sa.ForeignKeyConstraint(
            ["gift_card_id"],
            ["gift_cards.id"],
            name=op.f("fk_gift_card_redemptions_gift_card_id_gift_cards"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_card_redemptions")),
    )
    op.create_index(
        op.f("ix_gift_card_redemptions_booking_id"),
        "gift_card_redemptions",
        ["booking_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_gift_card_redemptions_gift_card_id"),
        "gift_card_redemptions",
        ["gift_card_id"],
        unique=False,
    )
    op.create_index("ix_booking_events_booking_id", "booking_events", ["booking_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_booking_events_booking_id", table_name="booking_events")
    op.drop_index(op.f("ix_gift_card_redemptions_gift_card_id"), table_name="gift_card_redemptions")
    op.drop_index(op.f("ix_gift_card_redemptions_booking_id"), table_name="gift_card_redemptions")
    op.drop_table("gift_card_redemptions")
    op.drop_table("gift_cards")
    op.drop_table("business_features")
    op.drop_table("retention_settings")
