"""Outbox, reminders, business notifications

Revision ID: a9c1e0000009
Revises: a8c1e0000008
Create Date: 2026-12-06 21:30:00
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "a9c1e0000009"
down_revision = "a8c1e0000008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "business_id",
            sa.Integer(),
            sa.ForeignKey("businesses.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("payload_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("give_up_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("dedupe_key", sa.String(120), nullable=True),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_outbox_messages_due", "outbox_messages", ["status", "next_attempt_at"])
    op.create_index(
        "ix_outbox_messages_business_status", "outbox_messages", ["business_id", "status"]
    )
    op.create_table(
        "booking_reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "booking_id",
            sa.Integer(),
            sa.ForeignKey("bookings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("hours_before", sa.Integer(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("booking_id", "hours_before", "start_at"),
    )
    # Plain ADD COLUMN, not batch mode: on SQLite batch mode copies the table, which
    # would drop the bookings' no-overlap triggers (revision a8c1e0000008).
    op.add_column(
        "businesses", sa.Column("contact_email", sa.String(254), nullable=False, server_default="")
    )
    op.add_column(
        "businesses",
        sa.Column("reminder_hours", sa.String(16), nullable=False, server_default="24"),
    )
    op.add_column("businesses", sa.Column("agenda_minute", sa.Integer(), nullable=True))
    op.add_column(
        "bookings",
        sa.Column("reminders_off", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("bookings", sa.Column("manage_token_sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("staff_user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_providers_staff_user_id",
            "staff_users",
            ["staff_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.add_column("staff_users", sa.Column("notify_scope", sa.String(8), nullable=True))
    op.add_column(
        "staff_users",
        sa.Column(
            "notify_events",
            sa.String(64),
            nullable=False,
            server_default="new,moved,cancelled,pending",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("notify_events")
        batch.drop_column("notify_scope")
    with op.batch_alter_table("providers") as batch:
        batch.drop_constraint("fk_providers_staff_user_id", type_="foreignkey")
        batch.drop_column("staff_user_id")
    # SQLite (3.35+) drops a column in place, keeping the bookings' triggers.
    op.drop_column("bookings", "manage_token_sealed")
    op.drop_column("bookings", "reminders_off")
    with op.batch_alter_table("businesses") as batch:
        batch.drop_column("agenda_minute")
        batch.drop_column("reminder_hours")
        batch.drop_column("contact_email")
    op.drop_table("booking_reminders")
    op.drop_index("ix_outbox_messages_business_status", "outbox_messages")
    op.drop_index("ix_outbox_messages_due", "outbox_messages")
    op.drop_table("outbox_messages")
