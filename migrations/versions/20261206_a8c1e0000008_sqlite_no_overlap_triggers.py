"""SQLite no-overlap triggers, the counterpart of PostgreSQL's exclusion constraint

Revision ID: a8c1e0000008
Revises: a7c1e0000007
Create Date: 2026-12-06 19:00:00
"""

from alembic import op

revision = "a8c1e0000008"
down_revision = "a7c1e0000007"
branch_labels = None
depends_on = None

#: The triggers' name and the error they raise ('bookings_no_overlap', which
#: ``portal.booking.service`` turns into ``SlotTaken``). The overlap check looks one day
#: back, so a booking that occupies its provider longer is refused too
#: ('bookings_occupancy_over_a_day').
OVERLAP = "bookings_no_overlap"

# Times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, so text order is time order;
# datetime(..., '-1 day') drops the fraction, which only widens the lower bound.
_REFUSE_OVERLAP = """
    SELECT RAISE(ABORT, 'bookings_occupancy_over_a_day')
    WHERE julianday(NEW.occupied_until) - julianday(NEW.start_at) > 1;
    SELECT RAISE(ABORT, 'bookings_no_overlap')
    WHERE EXISTS (
        SELECT 1 FROM bookings
        WHERE provider_id = NEW.provider_id
          AND id IS NOT NEW.id
          AND status IN ('confirmed', 'pending')
          AND start_at >= datetime(NEW.start_at, '-1 day')
          AND start_at < NEW.occupied_until
          AND occupied_until > NEW.start_at
    );
"""


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    # PostgreSQL has the exclusion constraint bookings_no_overlap (revision a7c1e0000007).
    if not _on_sqlite():
        return
    op.execute(
        f"CREATE TRIGGER {OVERLAP}_insert BEFORE INSERT ON bookings "
        f"WHEN NEW.status IN ('confirmed', 'pending') BEGIN {_REFUSE_OVERLAP} END"
    )
    op.execute(
        f"CREATE TRIGGER {OVERLAP}_update "
        "BEFORE UPDATE OF provider_id, start_at, occupied_until, status ON bookings "
        f"WHEN NEW.status IN ('confirmed', 'pending') BEGIN {_REFUSE_OVERLAP} END"
    )


def downgrade() -> None:
    if not _on_sqlite():
        return
    op.execute(f"DROP TRIGGER IF EXISTS {OVERLAP}_update")
    op.execute(f"DROP TRIGGER IF EXISTS {OVERLAP}_insert")
