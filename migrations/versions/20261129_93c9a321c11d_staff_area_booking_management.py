"""staff area booking management

Revision ID: 93c9a321c11d
Revises: f5b176ff3e83
Create Date: 2026-11-29 12:46:15.468509
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "93c9a321c11d"
down_revision = "f5b176ff3e83"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_events_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_booking_events_business_id_businesses"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_booking_events_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_events")),
    )
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_booking_events_business_created", ["business_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_booking_events_client_kind", ["client_id", "kind"], unique=False)

    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancel_reason", sa.String(length=500), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=16), nullable=False, server_default="client")
        )
        batch_op.add_column(
            sa.Column("ip_address", sa.String(length=45), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("decided_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("rescheduled_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("no_show", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_constraint(op.f("ck_bookings_status"), type_="check")
        batch_op.create_check_constraint(
            "status", "status IN ('confirmed', 'cancelled', 'pending', 'declined')"
        )

    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approve_bookings", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "max_future_bookings_per_client",
                sa.Integer(),
                nullable=False,
                server_default=sa.text("5"),
            )
        )
        batch_op.add_column(
            sa.Column(
                "max_future_bookings_per_address",
                sa.Integer(),
                nullable=False,
                server_default=sa.text("10"),
            )
        )
        batch_op.add_column(
            sa.Column("auto_block_after", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(
            sa.Column("embed_origins", sa.Text(), nullable=False, server_default="")
        )

    with op.batch_alter_table("cancellation_policy_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reschedule_mode", sa.String(length=16), nullable=False, server_default="until"
            )
        )
        batch_op.add_column(
            sa.Column(
                "reschedule_notice_minutes",
                sa.Integer(),
                nullable=False,
                server_default=sa.text("1440"),
            )
        )
        batch_op.add_column(sa.Column("prepayment", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("refunds", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("rebooking", sa.Text(), nullable=False, server_default=""))
        batch_op.create_check_constraint(
            "reschedule_mode", "reschedule_mode IN ('any_time', 'until', 'never')"
        )
        batch_op.create_check_constraint("reschedule_notice", "reschedule_notice_minutes >= 0")

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("blocked_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("blocked_reason", sa.String(length=500), nullable=False, server_default="")
        )


def downgrade() -> None:
    op.execute("UPDATE bookings SET status = 'cancelled' WHERE status = 'declined'")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("blocked_reason")
        batch_op.drop_column("blocked_at")

    with op.batch_alter_table("cancellation_policy_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_cancellation_policy_versions_reschedule_notice"), type_="check"
        )
        batch_op.drop_constraint(
            op.f("ck_cancellation_policy_versions_reschedule_mode"), type_="check"
        )
        batch_op.drop_column("rebooking")
        batch_op.drop_column("refunds")
        batch_op.drop_column("prepayment")
        batch_op.drop_column("reschedule_notice_minutes")
        batch_op.drop_column("reschedule_mode")

    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.drop_column("embed_origins")
        batch_op.drop_column("auto_block_after")
        batch_op.drop_column("max_future_bookings_per_address")
        batch_op.drop_column("max_future_bookings_per_client")
        batch_op.drop_column("approve_bookings")

    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_bookings_status"), type_="check")
        batch_op.create_check_constraint(
            "status", "status IN ('confirmed', 'cancelled', 'pending')"
        )
        batch_op.drop_column("no_show")
        batch_op.drop_column("rescheduled_at")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("ip_address")
        batch_op.drop_column("created_by")
        batch_op.drop_column("cancel_reason")

    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.drop_index("ix_booking_events_client_kind")
        batch_op.drop_index("ix_booking_events_business_created")

    op.drop_table("booking_events")
