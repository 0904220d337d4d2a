"""Gift cards: ledger entries (refund, void, forfeit) and the refund-on-cancel setting

Revision ID: a9c1e0000014
Revises: a9c1e0000013
Create Date: 2026-12-07 04:15:00
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "a9c1e0000014"
down_revision = "a9c1e0000013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gift_card_settings",
        sa.Column(
            "business_id",
            sa.Integer(),
            sa.ForeignKey(
                "businesses.id", name=op.f("fk_gift_card_settings_business_id_businesses")
            ),
            nullable=False,
        ),
        sa.Column("refund_on_cancel", sa.String(8), nullable=False, server_default="window"),
        sa.CheckConstraint(
            "refund_on_cancel IN ('always', 'window', 'never')",
            name=op.f("ck_gift_card_settings_refund_on_cancel"),
        ),
        sa.PrimaryKeyConstraint("business_id", name=op.f("pk_gift_card_settings")),
    )
    op.create_table(
        "gift_card_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "business_id",
            sa.Integer(),
            sa.ForeignKey(
                "businesses.id", name=op.f("fk_gift_card_entries_business_id_businesses")
            ),
            nullable=False,
        ),
        sa.Column(
            "gift_card_id",
            sa.Integer(),
            sa.ForeignKey(
                "gift_cards.id", name=op.f("fk_gift_card_entries_gift_card_id_gift_cards")
            ),
            nullable=False,
        ),
        sa.Column(
            "redemption_id",
            sa.Integer(),
            sa.ForeignKey(
                "gift_card_redemptions.id",
                name=op.f("fk_gift_card_entries_redemption_id_gift_card_redemptions"),
            ),
            nullable=True,
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_gift_card_entries_amount")),
        sa.CheckConstraint(
            "kind IN ('refund', 'void', 'forfeit')", name=op.f("ck_gift_card_entries_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_card_entries")),
        sa.UniqueConstraint("redemption_id", name=op.f("uq_gift_card_entries_redemption_id")),
    )
    op.create_index(
        op.f("ix_gift_card_entries_gift_card_id"), "gift_card_entries", ["gift_card_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_gift_card_entries_gift_card_id"), table_name="gift_card_entries")
    op.drop_table("gift_card_entries")
    op.drop_table("gift_card_settings")
