"""Terms and policy texts written in a Markdown subset: a format per version

Revision ID: a9c1e0000015
Revises: a9c1e0000014
Create Date: 2026-12-07 04:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a9c1e0000015"
down_revision = "a9c1e0000014"
branch_labels = None
depends_on = None

# Every version written before this revision is HTML and keeps rendering as HTML.
_TABLES = (
    "terms_versions",
    "terms_translations",
    "cancellation_policy_versions",
    "cancellation_policy_translations",
)


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(
            table, sa.Column("format", sa.String(10), nullable=False, server_default="html")
        )


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_column(table, "format")
