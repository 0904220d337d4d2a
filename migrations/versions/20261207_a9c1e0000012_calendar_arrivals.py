"""Calendar arrivals: when staff marked the client as arrived

Revision ID: a9c1e0000012
Revises: a9c1e0000011
Create Date: 2026-12-07 04:05:00
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "a9c1e0000012"
down_revision = "a9c1e0000011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: on SQLite batch mode copies the table, which
    # would drop the bookings' no-overlap triggers (revision a8c1e0000008).
    op.add_column("bookings", sa.Column("arrived_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place, keeping the bookings' triggers.
    op.drop_column("bookings", "arrived_at")
