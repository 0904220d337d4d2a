"""Owner texts in a second language: services, terms and cancellation policy versions

Revision ID: a9c1e0000011
Revises: a9c1e0000010
Create Date: 2026-12-07 02:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a9c1e0000011"
down_revision = "a9c1e0000010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New tables only: nothing is altered, so no table is copied (bookings' triggers stay).
    op.create_table(
        "service_translations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "service_id",
            sa.Integer(),
            sa.ForeignKey("services.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.UniqueConstraint("service_id", "locale"),
    )
    op.create_index("ix_service_translations_service_id", "service_translations", ["service_id"])
    op.create_table(
        "terms_translations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "terms_version_id",
            sa.Integer(),
            sa.ForeignKey("terms_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.UniqueConstraint("terms_version_id", "locale"),
    )
    op.create_index(
        "ix_terms_translations_terms_version_id", "terms_translations", ["terms_version_id"]
    )
    op.create_table(
        "cancellation_policy_translations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "policy_version_id",
            sa.Integer(),
            sa.ForeignKey("cancellation_policy_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prepayment", sa.Text(), nullable=False),
        sa.Column("refunds", sa.Text(), nullable=False),
        sa.Column("rebooking", sa.Text(), nullable=False),
        sa.UniqueConstraint("policy_version_id", "locale"),
    )
    op.create_index(
        "ix_cancellation_policy_translations_policy_version_id",
        "cancellation_policy_translations",
        ["policy_version_id"],
    )


def downgrade() -> None:
    op.drop_table("cancellation_policy_translations")
    op.drop_table("terms_translations")
    op.drop_table("service_translations")
