"""Bookings and the consents each booking records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.catalog.models import Provider, Service
from portal.clients.models import Client
from portal.clock import utcnow
from portal.db import Base, UTCDateTime
from portal.policies.models import CancellationPolicyVersion, TermsVersion
from portal.web.lazy_text import lazy_text as _l

CONFIRMED = "confirmed"
CANCELLED = "cancelled"
PENDING = "pending"
DECLINED = "declined"
#: Statuses that hold a provider's time.
ACTIVE_STATUSES = (CONFIRMED, PENDING)
STATUS_LABELS = {
    CONFIRMED: _l("Confirmed"),
    PENDING: _l("Requested, waiting for approval"),
    CANCELLED: _l("Cancelled"),
    DECLINED: _l("Declined"),
}


class Booking(Base):
    """One appointment.

    ``occupied_until`` is the end plus the service's buffer: the provider is
    busy from ``start_at`` until then, and no other active booking of the
    same provider may overlap that range.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("start_at < end_at AND end_at <= occupied_until", name="times"),
        CheckConstraint(
            "status IN ('confirmed', 'cancelled', 'pending', 'declined')", name="status"
        ),
        Index("ix_bookings_provider_start", "provider_id", "start_at"),
        Index("ix_bookings_business_start", "business_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    occupied_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=CONFIRMED)
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    policy_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("cancellation_policy_versions.id")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    #: "client" when booked through the portal, "staff" when staff booked it.
    created_by: Mapped[str] = mapped_column(String(16), default="client")
    #: The address the booking was made from (for per-address booking limits).
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rescheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    no_show: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When staff marked the client as arrived (from the calendar's day view).
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The client switched reminders off (from the manage page or an e-mail's link).
    reminders_off: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The manage token, encrypted (``portal.secret_box``), so the worker can put the
    #: manage link in reminders; None for bookings made before reminders existed.
    manage_token_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: What the client wrote in the booking form's notes field (for staff only; sensitive:
    #: never in a HIPAA-mode message, part of data export and erasure).
    client_notes: Mapped[str] = mapped_column(Text, default="")
    #: Staff's internal note on the booking (never shown to the client nor e-mailed).
    staff_notes: Mapped[str] = mapped_column(Text, default="")

    client: Mapped[Client] = relationship()
    service: Mapped[Service] = relationship()
    provider: Mapped[Provider] = relationship()
    policy_version: Mapped[CancellationPolicyVersion | None] = relationship()
    consents: Mapped[list[BookingConsent]] = relationship(
        back_populates="booking", cascade="all, delete-orphan", order_by="BookingConsent.id"
    )

    @property
    def status_label(self) -> str:
        """The status in words, in the language of the page."""
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def is_cancelled(self) -> bool:
        return self.status == CANCELLED

    def cancel_deadline(self) -> datetime | None:
        """The last instant the client may cancel; None if the policy forbids it.

        The policy version the client accepted governs. Without one, clients
        may cancel until the appointment starts.
        """
        if self.policy_version is None:
            return self.start_at
        return self.policy_version.cancel_deadline(self.start_at)

    def can_cancel(self, now: datetime) -> bool:
        deadline = self.cancel_deadline()
        return self.is_active and deadline is not None and now < deadline

    def reschedule_deadline(self) -> datetime | None:
        """The last instant the client may move the booking; None if the policy forbids it."""
        if self.policy_version is None:
            return self.start_at
        return self.policy_version.reschedule_deadline(self.start_at)

    def can_reschedule(self, now: datetime) -> bool:
        deadline = self.reschedule_deadline()
        return self.is_active and deadline is not None and now < deadline

    @property
    def is_active(self) -> bool:
        """Holds the provider's time: confirmed or waiting for approval."""
        return self.status in ACTIVE_STATUSES


class BookingConsent(Base):
    """A client's acceptance of one document version when booking."""

    __tablename__ = "booking_consents"
    __table_args__ = (
        CheckConstraint("kind IN ('terms', 'cancellation_policy')", name="kind"),
        CheckConstraint(
            "(kind = 'terms' AND terms_version_id IS NOT NULL) OR "
            "(kind = 'cancellation_policy' AND policy_version_id IS NOT NULL)",
            name="version",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    terms_version_id: Mapped[int | None] = mapped_column(ForeignKey("terms_versions.id"))
    policy_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("cancellation_policy_versions.id")
    )
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip_address: Mapped[str] = mapped_column(String(45))
    #: The form warned the client, beside this checkbox, that the free-cancellation
    #: (or rescheduling) deadline of the chosen time had already passed.
    deadline_passed_shown: Mapped[bool] = mapped_column(Boolean, default=False)

    booking: Mapped[Booking] = relationship(back_populates="consents")
    terms_version: Mapped[TermsVersion | None] = relationship()
    policy_version: Mapped[CancellationPolicyVersion | None] = relationship()


LATE_CANCEL_REFUSED = "late_cancel_refused"
LATE_RESCHEDULE_REFUSED = "late_reschedule_refused"
#: Not counted against the client: it numbers the updates of a booking's calendar entry.
RESCHEDULED = "rescheduled"
NO_SHOW = "no_show"


class BookingEvent(Base):
    """Something that happened to a booking that the business counts (chart, auto-block)."""

    __tablename__ = "booking_events"
    __table_args__ = (
        Index("ix_booking_events_business_created", "business_id", "created_at"),
        Index("ix_booking_events_client_kind", "client_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BookingReminder(Base):
    """A reminder sent (queued) for a booking: at most one per booking, lead time and start.

    The start is part of the key, so a moved booking gets its reminders again
    for the new time, and a second run of the reminder job finds nothing to do.
    """

    __tablename__ = "booking_reminders"
    __table_args__ = (UniqueConstraint("booking_id", "hours_before", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    hours_before: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
