"""initial schema

Revision ID: 2fcd470d8464
Revises:
Create Date: 2026-11-29 12:32:55.107518
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "2fcd470d8464"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "businesses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("max_days_ahead", sa.Integer(), nullable=False),
        sa.Column("slot_step_minutes", sa.Integer(), nullable=False),
        sa.Column("terms_enabled", sa.Boolean(), nullable=False),
        sa.Column("cancellation_policy_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_businesses")),
        sa.UniqueConstraint("slug", name=op.f("uq_businesses_slug")),
    )
    op.create_table(
        "cancellation_policy_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("cancel_mode", sa.String(length=16), nullable=False),
        sa.Column("cancel_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cancel_mode IN ('any_time', 'until', 'never')",
            name=op.f("ck_cancellation_policy_versions_cancel_mode"),
        ),
        sa.CheckConstraint(
            "cancel_notice_minutes >= 0", name=op.f("ck_cancellation_policy_versions_cancel_notice")
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_cancellation_policy_versions_business_id_businesses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellation_policy_versions")),
        sa.UniqueConstraint(
            "business_id", "version", name=op.f("uq_cancellation_policy_versions_business_id")
        ),
    )
    with op.batch_alter_table("cancellation_policy_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cancellation_policy_versions_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_clients_business_id_businesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("business_id", "email", name=op.f("uq_clients_business_id")),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clients_business_id"), ["business_id"], unique=False)

    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_providers_business_id_businesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_providers_business_id"), ["business_id"], unique=False)

    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "buffer_minutes >= 0 AND buffer_minutes <= 240", name=op.f("ck_services_buffer")
        ),
        sa.CheckConstraint(
            "duration_minutes > 0 AND duration_minutes <= 720", name=op.f("ck_services_duration")
        ),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_services_price")),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_services_business_id_businesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_business_id"), ["business_id"], unique=False)

    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'staff')", name=op.f("ck_staff_users_role")),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_staff_users_business_id_businesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("business_id", "email", name=op.f("uq_staff_users_business_id")),
    )
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_users_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "terms_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_terms_versions_business_id_businesses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms_versions")),
        sa.UniqueConstraint("business_id", "version", name=op.f("uq_terms_versions_business_id")),
    )
    with op.batch_alter_table("terms_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_terms_versions_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("start_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occupied_until", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("manage_token_hash", sa.String(length=64), nullable=False),
        sa.Column("policy_version_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "status IN ('confirmed', 'cancelled', 'pending')", name=op.f("ck_bookings_status")
        ),
        sa.CheckConstraint(
            "start_at < end_at AND end_at <= occupied_until", name=op.f("ck_bookings_times")
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_bookings_business_id_businesses")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_bookings_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["cancellation_policy_versions.id"],
            name=op.f("fk_bookings_policy_version_id_cancellation_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_bookings_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_bookings_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("manage_token_hash", name=op.f("uq_bookings_manage_token_hash")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bookings_business_start", ["business_id", "start_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bookings_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            "ix_bookings_provider_start", ["provider_id", "start_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bookings_service_id"), ["service_id"], unique=False)

    op.create_table(
        "days_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_days_off_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_days_off")),
        sa.UniqueConstraint("provider_id", "day", name=op.f("uq_days_off_provider_id")),
    )
    with op.batch_alter_table("days_off", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_days_off_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "provider_services",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_services_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_provider_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", "service_id", name=op.f("pk_provider_services")),
    )
    op.create_table(
        "working_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.CheckConstraint("starts < ends", name=op.f("ck_working_hours_order")),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name=op.f("ck_working_hours_weekday")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_working_hours_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_working_hours")),
    )
    with op.batch_alter_table("working_hours", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_working_hours_provider_id"), ["provider_id"], unique=False
        )

    op.create_table(
        "booking_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("terms_version_id", sa.Integer(), nullable=True),
        sa.Column("policy_version_id", sa.Integer(), nullable=True),
        sa.Column("accepted_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=False),
        sa.CheckConstraint(
            "(kind = 'terms' AND terms_version_id IS NOT NULL) OR (kind = 'cancellation_policy' AND policy_version_id IS NOT NULL)",
            name=op.f("ck_booking_consents_version"),
        ),
        sa.CheckConstraint(
            "kind IN ('terms', 'cancellation_policy')", name=op.f("ck_booking_consents_kind")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_consents_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["cancellation_policy_versions.id"],
            name=op.f("fk_booking_consents_policy_version_id_cancellation_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["terms_version_id"],
            ["terms_versions.id"],
            name=op.f("fk_booking_consents_terms_version_id_terms_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_consents")),
    )
    with op.batch_alter_table("booking_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_consents_booking_id"), ["booking_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("booking_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_consents_booking_id"))

    op.drop_table("booking_consents")
    with op.batch_alter_table("working_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_working_hours_provider_id"))

    op.drop_table("working_hours")
    op.drop_table("provider_services")
    with op.batch_alter_table("days_off", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_days_off_provider_id"))

    op.drop_table("days_off")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bookings_service_id"))
        batch_op.drop_index("ix_bookings_provider_start")
        batch_op.drop_index(batch_op.f("ix_bookings_client_id"))
        batch_op.drop_index("ix_bookings_business_start")

    op.drop_table("bookings")
    with op.batch_alter_table("terms_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terms_versions_business_id"))

    op.drop_table("terms_versions")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_users_business_id"))

    op.drop_table("staff_users")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_business_id"))

    op.drop_table("services")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_providers_business_id"))

    op.drop_table("providers")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_business_id"))

    op.drop_table("clients")
    with op.batch_alter_table("cancellation_policy_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancellation_policy_versions_business_id"))

    op.drop_table("cancellation_policy_versions")
    op.drop_table("businesses")
