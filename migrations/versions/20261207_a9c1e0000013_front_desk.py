"""Front desk: clients without e-mail, staff may book outside the rules, internal notes

Revision ID: a9c1e0000013
Revises: a9c1e0000012
Create Date: 2026-12-07 04:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a9c1e0000013"
down_revision = "a9c1e0000012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite this copies ``clients`` (foreign keys are off while migrating, see
    # migrations/env.py, and the references to it keep naming "clients"); PostgreSQL
    # alters the column in place. ``bookings`` is never copied: it has triggers.
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("email", existing_type=sa.String(254), nullable=True)
        batch.add_column(sa.Column("staff_notes", sa.Text(), nullable=False, server_default=""))
    op.add_column(
        "bookings", sa.Column("staff_notes", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "businesses",
        sa.Column("staff_may_override", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("businesses", "staff_may_override")
    # SQLite (3.35+) drops a column in place, keeping the bookings' triggers.
    op.drop_column("bookings", "staff_notes")
    # Where e-mail is required again, a client without one gets an address that cannot receive.
    op.execute(
        "UPDATE clients SET email = 'no-email-' || id || '@no-email.invalid' WHERE email IS NULL"
    )
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("staff_notes")
        batch.alter_column("email", existing_type=sa.String(254), nullable=False)
