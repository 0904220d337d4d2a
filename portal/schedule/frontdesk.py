"""The front desk: staff move bookings and book outside the rules.

Plain functions over a session, as ``portal.schedule.service``. A booking
outside the opening hours or the minimum notice is an override: the owner
always may, staff only when the owner allowed it (``Business.staff_may_override``);
each one needs a reason and is audited with it. Internal notes live with
the clients (``portal.clients.notes``).
"""

from __future__ import annotations

from datetime import datetime, time

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.audit.service import Origin
from portal.booking import service as booking_service
from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.catalog.models import Provider
from portal.tokens import new_manage_token

#: The longest reason for booking outside the rules.
OVERRIDE_REASON_MAX = 500


class FrontDeskError(Exception):
    """A front-desk action the rules or the booking's state do not allow."""


class OverrideRefused(FrontDeskError):
    """Staff tried to book outside the rules without the owner's permission (a 403)."""

    def __init__(self) -> None:
        super().__init__(
            _(
                "Only the owner may book outside the opening hours and the minimum notice. "
                "The owner can allow it for staff on the Booking rules page."
            )
        )


class OverrideTooEarly(FrontDeskError):
    def __init__(self) -> None:
        super().__init__(
            _("A booking outside the rules can start today or later, not on a past day.")
        )


class NotMovable(FrontDeskError):
    def __init__(self) -> None:
        super().__init__(_("This booking is cancelled or declined; it cannot be moved."))


class MoveTooLate(FrontDeskError):
    def __init__(self) -> None:
        super().__init__(_("This appointment is over and cannot be moved any more."))


#: Refusals of a move's new time that are the request's fault (422), not the state's (409).
BAD_TIME = (booking_service.SlotUnavailable, booking_service.SameTime, OverrideTooEarly)


def may_override(business: Business, actor) -> bool:
    """Whether ``actor`` may book outside the opening hours and the minimum notice."""
    return bool(actor.is_owner or business.staff_may_override)


def check_override(business: Business, actor, start: datetime, now: datetime) -> None:
    """Refuse an override ``actor`` may not make, or one that starts on a past day."""
    if not may_override(business, actor):
        raise OverrideRefused()
    today = business.local(now).date()
    if start < datetime.combine(today, time.min, tzinfo=business.tz):
        raise OverrideTooEarly()


def record_override(
    session: Session, booking: Booking, actor, reason: str, now: datetime, origin: Origin
) -> None:
    audit.record(
        session,
        audit.BOOKING_RULES_OVERRIDDEN,
        now,
        business_id=booking.business_id,
        actor=actor,
        origin=origin,
        booking=booking.id,
        start=booking.start_at.isoformat(),
        reason=reason,
    )


def move_by_staff(
    session: Session,
    booking: Booking,
    new_start: datetime,
    provider: Provider | None,
    actor,
    now: datetime,
    origin: Origin,
    *,
    override_reason: str | None = None,
) -> Booking:
    """Move a booking to a free time; the client's rescheduling rule does not bind staff.

    The new time is checked and taken under the write lock by
    ``booking.service.reschedule`` (``SlotTaken`` when another booking holds
    it). With ``override_reason`` the time may lie outside the opening hours
    and the minimum notice. The move is audited with the old and new time.
    """
    if not booking.is_active:
        raise NotMovable()
    if booking.end_at <= now:
        raise MoveTooLate()
    business = session.get(Business, booking.business_id)
    if override_reason is not None:
        check_override(business, actor, new_start, now)
    old_start, old_provider = booking.start_at, booking.provider_id
    # A refusal leaves the booking as it was (the savepoint is rolled back).
    with session.begin_nested():
        booking_service.reschedule(
            session,
            booking,
            new_start,
            now,
            provider,
            by_staff=True,
            outside_rules=override_reason is not None,
        )
    audit.record(
        session,
        audit.BOOKING_MOVED_BY_STAFF,
        now,
        business_id=booking.business_id,
        actor=actor,
        origin=origin,
        booking=booking.id,
        old_start=old_start.isoformat(),
        new_start=booking.start_at.isoformat(),
        old_provider=old_provider,
        new_provider=booking.provider_id,
    )
    if override_reason is not None:
        record_override(session, booking, actor, override_reason, now, origin)
    session.flush()
    return booking


def token_for_mail(booking: Booking) -> str:
    """The booking's manage token for a staff e-mail; a fresh one when it cannot be opened.

    Staff never see the token; it is sealed at booking time. A booking from
    before sealing gets a new token (its old link stops working; the mail has the new one).
    """
    token = booking_service.open_manage_token(booking)
    if token is None:
        token, token_hash = new_manage_token()
        booking.manage_token_hash = token_hash
        booking.manage_token_sealed = booking_service.seal_manage_token(token)
    return token


def local_start(business: Business, day, wall: time) -> datetime:
    """The instant of local ``wall`` time on ``day`` (an override's typed time)."""
    return datetime.combine(day, wall, tzinfo=business.tz)
