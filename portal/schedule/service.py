"""What staff do with bookings, as plain functions over a session.

Every lookup takes the business it is scoped to; a booking, provider or
service of another business is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.audit.service import Origin
from portal.booking import service as booking_service
from portal.booking.availability import Slot, slots_on
from portal.booking.late_cancellations import late_cancellation_times
from portal.booking.models import (
    ACTIVE_STATUSES,
    CANCELLED,
    CONFIRMED,
    DECLINED,
    NO_SHOW,
    PENDING,
    Booking,
    BookingEvent,
)
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.clients.models import Client
from portal.clients.service import CLIENT_RULES, note_client_event
from portal.db import MAX_ID
from portal.giftcards import service as giftcards
from portal.policies.service import current_policy
from portal.schedule import frontdesk

#: Weeks the dashboard chart covers, the current one included.
CHART_WEEKS = 12
#: Owner settings on the Booking rules page.
BOOKING_RULES = (
    "approve_bookings",
    "client_phone",
    "client_notes",
    "staff_may_override",
    *CLIENT_RULES,
)


#: What ``book_for_client`` raises when the chosen time cannot be had after all.
TIME_GONE = (booking_service.SlotTaken, booking_service.SlotUnavailable)


class ScheduleError(Exception):
    """A staff action on a booking that its state does not allow."""


class NotActive(ScheduleError):
    def __init__(self) -> None:
        super().__init__(_("This booking is already cancelled or declined; nothing was changed."))


class AppointmentOver(ScheduleError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "This appointment is over and cannot be cancelled any more. "
                "If the client did not come, mark it as a no-show."
            )
        )


class NotPending(ScheduleError):
    def __init__(self) -> None:
        super().__init__(_("This booking is not waiting for approval; nothing was changed."))


class RequestExpired(ScheduleError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "The requested time has already begun, so the request cannot be approved. "
                "Decline it, or create a new booking for the client."
            )
        )


class NoShowRefused(ScheduleError):
    """Only a confirmed booking whose start has passed can be a no-show."""


# Looking things up ---------------------------------------------------------


def find_booking(session: Session, business_id: int, booking_id: int) -> Booking | None:
    """The business's booking ``booking_id``, or None."""
    if not 0 < booking_id <= MAX_ID:
        return None
    return session.scalars(
        select(Booking).where(Booking.id == booking_id, Booking.business_id == business_id)
    ).first()


def find_provider(session: Session, business_id: int, provider_id: int) -> Provider | None:
    if not 0 < provider_id <= MAX_ID:
        return None
    return session.scalars(
        select(Provider).where(Provider.id == provider_id, Provider.business_id == business_id)
    ).first()


def booking_events(session: Session, booking: Booking) -> list[BookingEvent]:
    return list(
        session.scalars(
            select(BookingEvent)
            .where(BookingEvent.booking_id == booking.id)
            .order_by(BookingEvent.created_at, BookingEvent.id)
        )
    )


def local_midnight(business: Business, day: date) -> datetime:
    """The instant the local ``day`` begins (DST-correct)."""
    return datetime.combine(day, time.min, tzinfo=business.tz)


def bookings_starting(
    session: Session,
    business: Business,
    first_day: date,
    days: int,
    *,
    provider_id: int | None = None,
    statuses: tuple[str, ...] | None = None,
) -> list[Booking]:
    """Bookings starting on the ``days`` local days from ``first_day``, by start time."""
    query = select(Booking).where(
        Booking.business_id == business.id,
        Booking.start_at >= local_midnight(business, first_day),
        Booking.start_at < local_midnight(business, first_day + timedelta(days=days)),
    )
    if provider_id is not None:
        query = query.where(Booking.provider_id == provider_id)
    if statuses is not None:
        query = query.where(Booking.status.in_(statuses))
    return list(session.scalars(query.order_by(Booking.start_at, Booking.id)))


def pending_requests(session: Session, business_id: int, now: datetime) -> list[Booking]:
    """Booking requests waiting for a decision whose time has not passed, soonest first."""
    return list(
        session.scalars(
            select(Booking)
            .where(
                Booking.business_id == business_id,
                Booking.status == PENDING,
                Booking.end_at > now,
            )
            .order_by(Booking.start_at, Booking.id)
        )
    )


# Dashboard -----------------------------------------------------------------


@dataclass(frozen=True)
class WeekCount:
    """Activity of one local week, Monday to Sunday."""

    start: date
    made: int = 0
    cancelled: int = 0
    late_refused: int = 0


def weekly_activity(
    session: Session, business: Business, now: datetime, weeks: int = CHART_WEEKS
) -> list[WeekCount]:
    """Bookings made, cancellations and refused late cancellations per local week.

    The last entry is the current week. An instant counts in the week its
    local date falls in, so a DST change never moves it across a boundary.
    """
    today = business.local(now).date()
    first_monday = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    since = local_midnight(business, first_monday)
    series = {
        "made": session.scalars(
            select(Booking.created_at).where(
                Booking.business_id == business.id, Booking.created_at >= since
            )
        ),
        "cancelled": session.scalars(
            select(Booking.cancelled_at).where(
                Booking.business_id == business.id,
                Booking.status == CANCELLED,
                Booking.cancelled_at >= since,
            )
        ),
        # Counted as on the client's page (one per booking), by the same function.
        "late_refused": late_cancellation_times(session, business.id, since=since),
    }
    counts: dict[str, list[int]] = {}
    for name, instants in series.items():
        counts[name] = [0] * weeks
        for instant in instants:
            index = (business.local(instant).date() - first_monday).days // 7
            if 0 <= index < weeks:
                counts[name][index] += 1
    return [
        WeekCount(
            start=first_monday + timedelta(weeks=n),
            made=counts["made"][n],
            cancelled=counts["cancelled"][n],
            late_refused=counts["late_refused"][n],
        )
        for n in range(weeks)
    ]


@dataclass(frozen=True)
class Dashboard:
    today: date
    today_bookings: list[Booking]
    tomorrow_bookings: list[Booking]
    pending: list[Booking]
    weeks: list[WeekCount]

    @property
    def tomorrow(self) -> date:
        return self.today + timedelta(days=1)


def dashboard(session: Session, business: Business, now: datetime) -> Dashboard:
    """Today's and tomorrow's bookings, open requests and the weekly activity."""
    today = business.local(now).date()
    upcoming = bookings_starting(session, business, today, 2, statuses=ACTIVE_STATUSES)
    tomorrow_begins = local_midnight(business, today + timedelta(days=1))
    return Dashboard(
        today=today,
        today_bookings=[b for b in upcoming if b.start_at < tomorrow_begins],
        tomorrow_bookings=[b for b in upcoming if b.start_at >= tomorrow_begins],
        pending=pending_requests(session, business.id, now),
        weeks=weekly_activity(session, business, now),
    )


# Staff actions ---------------------------------------------------------------


def _record(session, kind, booking: Booking, actor, now, origin: Origin, **details) -> None:
    audit.record(
        session,
        kind,
        now,
        business_id=booking.business_id,
        actor=actor,
        origin=origin,
        booking=booking.id,
        **details,
    )


def cancel_by_staff(
    session: Session, booking: Booking, actor, reason: str, now: datetime, origin: Origin
) -> Booking:
    """Cancel a booking whatever the client's window; ``reason`` goes to the client."""
    if not booking.is_active:
        raise NotActive()
    if booking.end_at <= now:
        raise AppointmentOver()
    booking.status = CANCELLED
    booking.cancelled_at = now
    booking.cancelled_by = "staff"
    booking.cancel_reason = reason
    giftcards.return_on_cancel(session, booking, now)
    _record(session, audit.BOOKING_CANCELLED_BY_STAFF, booking, actor, now, origin, reason=reason)
    session.flush()
    return booking


def approve(session: Session, booking: Booking, actor, now: datetime, origin: Origin) -> Booking:
    """Confirm a booking request; its time was held all along."""
    if booking.status != PENDING:
        raise NotPending()
    if booking.start_at <= now:
        raise RequestExpired()
    booking.status = CONFIRMED
    booking.decided_at = now
    _record(session, audit.BOOKING_APPROVED, booking, actor, now, origin)
    session.flush()
    return booking


def decline(
    session: Session, booking: Booking, actor, reason: str, now: datetime, origin: Origin
) -> Booking:
    """Refuse a booking request; its time is free again."""
    if booking.status != PENDING:
        raise NotPending()
    booking.status = DECLINED
    booking.decided_at = now
    booking.cancel_reason = reason
    giftcards.return_on_cancel(session, booking, now)
    _record(session, audit.BOOKING_DECLINED, booking, actor, now, origin, reason=reason)
    session.flush()
    return booking


def mark_no_show(
    session: Session, booking: Booking, actor, now: datetime, origin: Origin
) -> BookingEvent:
    """Record that the client did not come to a confirmed appointment that has begun."""
    if booking.no_show:
        raise NoShowRefused(_("This booking is already marked as a no-show."))
    if booking.arrived_at is not None:
        raise NoShowRefused(_("This client is marked as arrived; it cannot also be a no-show."))
    if booking.status != CONFIRMED:
        raise NoShowRefused(_("Only a confirmed booking can be marked as a no-show."))
    if booking.start_at > now:
        raise NoShowRefused(_("The appointment has not begun yet; mark a no-show once it has."))
    booking.no_show = True
    _record(session, audit.BOOKING_NO_SHOW, booking, actor, now, origin)
    # Through the clients' rules: enough no-shows may block the client.
    business = session.get(Business, booking.business_id)
    event = note_client_event(session, business, booking.client_id, NO_SHOW, booking.id, now)
    session.flush()
    return event


def free_slots(
    session: Session,
    business: Business,
    service: Service,
    provider: Provider | None,
    day: date,
    now: datetime,
) -> list[Slot]:
    """The free slots of ``service`` on local ``day`` (with ``provider``, or anyone)."""
    providers = booking_service.bookable_providers(session, business, service)
    if provider is not None:
        providers = [p for p in providers if p.id == provider.id]
    return slots_on(session, business, service, providers, day, now)


def book_for_client(
    session: Session,
    business: Business,
    service: Service,
    provider: Provider | None,
    start: datetime,
    details: booking_service.ClientDetails,
    actor,
    now: datetime,
    origin: Origin,
    *,
    client: Client | None = None,
    override_reason: str | None = None,
) -> tuple[Booking, str]:
    """Book on a client's behalf: confirmed at once, no consents asked.

    The business's current cancellation policy governs the booking, so the
    client may cancel online under the same rules as everyone else; no
    consent is recorded because the client accepted nothing themselves.
    The provider's time is claimed by ``booking.service.book``, as for a
    client. All or nothing: when the time is gone (``TIME_GONE``) no trace
    is left, not even a new client row.

    ``client``: an existing client staff picked (else the one of ``details``,
    added if new; without an e-mail address always a new one).
    ``override_reason``: book outside the opening hours and the minimum
    notice (``frontdesk.OverrideRefused`` unless ``actor`` may), audited.
    """
    if override_reason is not None:
        frontdesk.check_override(business, actor, start, now)
    with session.begin_nested():
        booking, token = booking_service.book(
            session,
            business,
            service,
            provider,
            start,
            details,
            booking_service.Consents(terms=None, policy=None, ip_address=""),
            now,
            client=client,
            created_by="staff",
            status=CONFIRMED,
            outside_rules=override_reason is not None,
        )
    if business.cancellation_policy_enabled:
        booking.policy_version = current_policy(session, business)
    _record(
        session,
        audit.BOOKING_CREATED_BY_STAFF,
        booking,
        actor,
        now,
        origin,
        start=booking.start_at.isoformat(),
    )
    if override_reason is not None:
        frontdesk.record_override(session, booking, actor, override_reason, now, origin)
    session.flush()
    return booking, token


def save_booking_rules(
    session: Session, actor, business: Business, values: dict, now: datetime, origin: Origin
) -> dict[str, list]:
    """Apply the owner's booking rules; one audit event lists old and new values."""
    changes = audit.apply_changes(business, values, BOOKING_RULES)
    audit.record_changes(session, actor, now, origin, "booking_rules", changes)
    session.flush()
    return changes


def mark_arrived(
    session: Session, business: Business, booking: Booking, actor, now: datetime, origin: Origin
) -> Booking:
    """Record that the client of a confirmed appointment of today (or earlier) has come."""
    if booking.arrived_at is not None:
        raise ScheduleError(_("This client is already marked as arrived."))
    if booking.no_show:
        raise ScheduleError(
            _("This booking is marked as a no-show; it cannot also be marked as arrived.")
        )
    if booking.status != CONFIRMED:
        raise ScheduleError(_("Only a confirmed booking can be marked as arrived."))
    if business.local(booking.start_at).date() > business.local(now).date():
        raise ScheduleError(_("This appointment is on a later day; mark the arrival on its day."))
    booking.arrived_at = now
    _record(session, audit.BOOKING_ARRIVED, booking, actor, now, origin)
    session.flush()
    return booking
