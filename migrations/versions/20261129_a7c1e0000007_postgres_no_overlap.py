"""PostgreSQL no-overlap exclusion constraint

Revision ID: a7c1e0000007
Revises: a6c1e0000006
Create Date: 2026-11-29 13:35:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import portal.db  # noqa: F401

revision = "a7c1e0000007"
down_revision = "a6c1e0000006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
