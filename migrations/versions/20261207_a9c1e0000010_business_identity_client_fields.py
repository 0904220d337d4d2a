"""Business identity (contact details, accent colour, logo), client fields, deadline notice

Revision ID: a9c1e0000010
Revises: a9c1e0000009
Create Date: 2026-12-07 01:15:00
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "a9c1e0000010"
down_revision = "a9c1e0000009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "business_logos",
        sa.Column(
            "business_id",
            sa.Integer(),
            sa.ForeignKey("businesses.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    # Plain ADD COLUMN, not batch mode: on SQLite batch mode copies the table, which
    # would drop the bookings' no-overlap triggers (revision a8c1e0000008).
    for name, column_type, default in (
        ("address", sa.Text(), ""),
        ("phone", sa.String(40), ""),
        ("website", sa.String(300), ""),
        ("accent_color", sa.String(7), ""),
        ("client_phone", sa.String(10), "required"),
    ):
        op.add_column(
            "businesses", sa.Column(name, column_type, nullable=False, server_default=default)
        )
    op.add_column(
        "businesses",
        sa.Column("client_notes", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "bookings", sa.Column("client_notes", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "booking_consents",
        sa.Column("deadline_passed_shown", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place, keeping the bookings' triggers.
    op.drop_column("booking_consents", "deadline_passed_shown")
    op.drop_column("bookings", "client_notes")
    for name in ("client_notes", "client_phone", "accent_color", "website", "phone", "address"):
        op.drop_column("businesses", name)
    op.drop_table("business_logos")
