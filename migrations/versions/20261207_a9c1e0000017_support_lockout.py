"""Support accounts lock like staff accounts

Revision ID: a9c1e0000017
Revises: a9c1e0000016
Create Date: 2026-12-07 07:10:00
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "a9c1e0000017"
down_revision = "a9c1e0000016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "support_users",
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column(
        "support_users",
        sa.Column("lock_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("support_users", sa.Column("locked_at", portal.db.UTCDateTime(timezone=True)))
    op.add_column("support_users", sa.Column("locked_until", portal.db.UTCDateTime(timezone=True)))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place.
    op.drop_column("support_users", "locked_until")
    op.drop_column("support_users", "locked_at")
    op.drop_column("support_users", "lock_count")
    op.drop_column("support_users", "failed_attempts")
