"""PostgreSQL no-overlap exclusion constraint

Revision ID: a7c1e0000007
Revises: a6c1e0000006
Create Date: 2026-11-29 13:35:00
"""

from alembic import op

revision = "a7c1e0000007"
down_revision = "a6c1e0000006"
branch_labels = None
depends_on = None


CONSTRAINT = "bookings_no_overlap"


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    # SQLite has no exclusion constraints; there BEGIN IMMEDIATE serialises bookings.
    if not _on_postgresql():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        f"ALTER TABLE bookings ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(provider_id WITH =, tstzrange(start_at, occupied_until) WITH &&) "
        "WHERE (status IN ('confirmed', 'pending'))"
    )


def downgrade() -> None:
    if not _on_postgresql():
        return
    op.execute(f"ALTER TABLE bookings DROP CONSTRAINT IF EXISTS {CONSTRAINT}")
    # The extension stays: other objects may use it, and dropping it needs more rights.
