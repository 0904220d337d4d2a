"""Clean history settings, gift cards, client erasure

Revision ID: a5c1e0000005
Revises: 93c9a321c11d
Create Date: 2026-11-29 13:35:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import portal.db  # noqa: F401

revision = "a5c1e0000005"
down_revision = "93c9a321c11d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
