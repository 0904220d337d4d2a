"""HIPAA mode, platform support users, audit hash chain

Revision ID: a6c1e0000006
Revises: a5c1e0000005
Create Date: 2026-11-29 13:35:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import portal.db  # noqa: F401

revision = "a6c1e0000006"
down_revision = "a5c1e0000005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
