"""Booking and cancellation rules, as plain functions over a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import features
from portal.booking.availability import MAX_OCCUPANCY, BookingWindow, Slot, slots_on
from portal.booking.models import (
    ACTIVE_STATUSES,
    CANCELLED,
    CONFIRMED,
    LATE_CANCEL_REFUSED,
    LATE_RESCHEDULE_REFUSED,
    PENDING,
    RESCHEDULED,
    Booking,
    BookingConsent,
    BookingEvent,
)
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.clients.models import Client
from portal.clients.service import (
    PER_CLIENT,
    blocked_client,
    booking_limit_reached,
    note_client_event,
)
from portal.db import transaction_cache
from portal.giftcards import service as giftcards
from portal.policies.models import CancellationPolicyVersion, TermsVersion
from portal.policies.service import current_policy, current_terms
from portal.secret_box import SecretBox, encryption_keys
from portal.tokens import hash_token, new_manage_token


class BookingError(Exception):
    """A booking or cancellation the rules refuse."""


class SlotUnavailable(BookingError):
    """The business does not offer this time (outside hours, too soon, too far, misaligned)."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(_("That time cannot be booked. Please pick a time from the list."))
        self.start = start


class DayNotBookable(BookingError):
    """A day before the booking window opens or after it closes."""


class SlotTaken(BookingError):
    """The time was offered but another booking now holds it."""


class ConsentMissing(BookingError):
    """A required consent was not given."""


class CancellationTooLate(BookingError):
    """The policy's cancellation window has closed."""

    def __init__(self, deadline: datetime | None) -> None:
        super().__init__(_("The cancellation window has closed."))
        self.deadline = deadline


class AlreadyCancelled(BookingError):
    """The booking was cancelled before."""


class RescheduleTooLate(BookingError):
    """The policy's rescheduling window has closed (or the policy allows no moves online)."""

    def __init__(self, deadline: datetime | None) -> None:
        super().__init__(_("The rescheduling window has closed."))
        self.deadline = deadline


class SameTime(BookingError):
    """The booking is already at the time asked for."""

    def __init__(self) -> None:
        super().__init__(
            _("Your booking is already at that time. Please pick another time from the list.")
        )


class ClientBlocked(BookingError):
    """The business stopped this client from booking by themselves."""

    def __init__(self, business: Business) -> None:
        super().__init__(
            _(
                "Online booking is not available to you at %(business)s. "
                "Please contact %(business)s to book.",
                business=business.name,
            )
        )


class BookingLimitReached(BookingError):
    """The client, or their address, already holds as many future bookings as allowed."""

    def __init__(self, business: Business, scope: str, limit: int) -> None:
        if scope == PER_CLIENT:
            message = ngettext(
                "You already have %(num)d upcoming booking with %(business)s, the most "
                "that can be booked online at a time. Please cancel it first, or contact "
                "%(business)s to book more.",
                "You already have %(num)d upcoming bookings with %(business)s, the most "
                "that can be booked online at a time. Please cancel one first, or contact "
                "%(business)s to book more.",
                limit,
                business=business.name,
            )
        else:
            message = ngettext(
                "%(num)d upcoming booking has already been made online from your network, "
                "the most %(business)s accepts. Please contact %(business)s to book.",
                "%(num)d upcoming bookings have already been made online from your network, "
                "the most %(business)s accepts. Please contact %(business)s to book.",
                limit,
                business=business.name,
            )
        super().__init__(message)
        self.scope = scope
        self.limit = limit


@dataclass(frozen=True)
class ClientDetails:
    name: str
    email: str
    phone: str
    #: What the client wrote in the form's notes field (staff only; never e-mailed).
    notes: str = ""


@dataclass(frozen=True)
class SlotDeadlines:
    """The cancellation and rescheduling deadlines of a time, as the client books it.

    A deadline of None means the policy allows no online cancellation (or move)
    at all; ``cancel_passed``/``reschedule_passed`` say that it is already over.
    """

    cancel: datetime | None
    reschedule: datetime | None
    cancel_passed: bool
    reschedule_passed: bool

    @property
    def any_passed(self) -> bool:
        """Whether booking this time now means booking past one of its deadlines."""
        return self.cancel_passed or self.reschedule_passed


def slot_deadlines(
    policy: CancellationPolicyVersion | None, start: datetime, now: datetime
) -> SlotDeadlines | None:
    """The deadlines of a booking at ``start`` under ``policy``; None without a policy."""
    if policy is None:
        return None
    cancel = policy.cancel_deadline(start)
    reschedule = policy.reschedule_deadline(start)
    return SlotDeadlines(
        cancel=cancel,
        reschedule=reschedule,
        cancel_passed=cancel is not None and cancel <= now,
        reschedule_passed=reschedule is not None and reschedule <= now,
    )


@dataclass(frozen=True)
class Consents:
    """The document versions the client accepted, and where from."""

    terms: TermsVersion | None
    policy: CancellationPolicyVersion | None
    ip_address: str


def bookable_providers(session: Session, business: Business, service: Service) -> list[Provider]:
    """Active providers of the business who perform ``service``."""
    return [p for p in service.providers if p.active and p.business_id == business.id]


def _find_or_add_client(
    session: Session, business: Business, details: ClientDetails, known: Client | None = None
) -> Client:
    """``known`` (a signed-in account's client) or the client of ``details.email``."""
    if known is not None:
        if known.business_id != business.id:
            raise ValueError("a client books only at their own business")
        client = known
    else:
        # Staff may book for a client without an address: always a new client then.
        email = details.email.strip().lower() or None
        client = None
        if email is not None:
            client = session.scalars(
                select(Client).where(Client.business_id == business.id, Client.email == email)
            ).first()
    if client is None:
        client = Client(
            business_id=business.id, name=details.name, email=email, phone=details.phone
        )
        session.add(client)
        session.flush()
    elif not client.phone and details.phone:
        client.phone = details.phone
    return client


def _check_client_may_book(
    session: Session,
    business: Business,
    details: ClientDetails,
    client: Client | None,
    ip_address: str,
    now: datetime,
) -> None:
    """Refuse a blocked client, and a client or address over the booking limits."""
    emails = [details.email] + ([client.email] if client is not None else [])
    if blocked_client(session, business.id, emails, client) is not None:
        raise ClientBlocked(business)
    if business.max_future_bookings_per_client or business.max_future_bookings_per_address:
        # Serialise a business's online bookings on PostgreSQL, so two requests
        # cannot both take the last place; SQLite's write transaction does it.
        session.execute(select(Business.id).where(Business.id == business.id).with_for_update())
        reached = booking_limit_reached(
            session,
            business,
            email=client.email if client is not None else details.email,
            client=client,
            ip_address=ip_address,
            now=now,
        )
        if reached is not None:
            raise BookingLimitReached(business, reached.scope, reached.limit)


def _lock_provider(session: Session, provider: Provider) -> None:
    """Serialise bookings of one provider.

    PostgreSQL takes a row lock; SQLite's write transaction (``BEGIN
    IMMEDIATE``) already excludes every other writer, and it ignores FOR UPDATE.
    """
    session.execute(select(Provider.id).where(Provider.id == provider.id).with_for_update())


def _provider_is_free(
    session: Session,
    provider: Provider,
    start: datetime,
    until: datetime,
    exclude_booking_id: int | None = None,
):
    overlapping = exists().where(
        Booking.provider_id == provider.id,
        Booking.status.in_(ACTIVE_STATUSES),
        Booking.start_at >= start - MAX_OCCUPANCY,
        Booking.start_at < until,
        Booking.occupied_until > start,
    )
    if exclude_booking_id is not None:
        overlapping = overlapping.where(Booking.id != exclude_booking_id)
    return not session.scalar(select(overlapping))


@dataclass(frozen=True)
class Claim:
    """A provider's time, taken for a booking: who, and until when it is occupied."""

    provider: Provider
    start: datetime
    end: datetime
    occupied_until: datetime


def claim_provider(
    session: Session,
    business: Business,
    service: Service,
    candidates: list[Provider],
    start: datetime,
    now: datetime,
    *,
    moving: Booking | None = None,
    outside_rules: bool = False,
) -> Claim:
    """The first of ``candidates`` the business offers at ``start`` and who is free then.

    The one place a provider's time is taken: for a client's booking, a
    staff booking and a move. ``moving``: the booking being moved, whose own
    time does not count against it. Raises ``SlotUnavailable`` when no
    candidate is offered at ``start`` (outside hours, too soon, too far,
    misaligned) and ``SlotTaken`` when each offered one is busy. Must run
    under the write lock (see ``portal.db.writes``); each candidate is locked
    before its check, so two requests cannot both take the time.
    ``outside_rules``: staff override the opening hours and minimum notice
    (``portal.schedule.frontdesk`` checks who may); the provider must still be free.
    """
    local_day = business.local(start).date()
    if outside_rules:
        offered = {start: [candidate.id for candidate in candidates]}
    else:
        offered = {
            slot.start: slot.provider_ids
            for slot in slots_on(
                session, business, service, candidates, local_day, now, include_bookings=False
            )
        }
    if start not in offered:
        raise SlotUnavailable(start)
    end = start + timedelta(minutes=service.duration_minutes)
    occupied_until = end + timedelta(minutes=service.buffer_minutes)
    exclude = moving.id if moving is not None else None
    for candidate in candidates:
        if candidate.id not in offered[start]:
            continue
        _lock_provider(session, candidate)
        if _provider_is_free(session, candidate, start, occupied_until, exclude):
            return Claim(candidate, start, end, occupied_until)
    raise SlotTaken(start)


#: SQLSTATE of an exclusion-constraint violation (PostgreSQL's ``bookings_no_overlap``).
EXCLUSION_VIOLATION = "23P01"
#: What SQLite's no-overlap triggers raise (migration a8c1e0000008).
SQLITE_OVERLAP = "bookings_no_overlap"


def _flush_or_taken(session: Session, start: datetime) -> None:
    """Flush; a clash with the database's no-overlap rule means the slot was taken.

    The lock in ``_lock_provider`` keeps this from happening in normal
    operation; PostgreSQL's exclusion constraint and SQLite's triggers are the
    second wall should the check ever miss.
    """
    try:
        session.flush()
    except IntegrityError as error:
        pg_clash = getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION
        if pg_clash or str(error.orig) == SQLITE_OVERLAP:
            raise SlotTaken(start) from error
        raise


def book(
    session: Session,
    business: Business,
    service: Service,
    provider: Provider | None,
    start: datetime,
    details: ClientDetails,
    consents: Consents,
    now: datetime,
    *,
    client: Client | None = None,
    created_by: str = "client",
    status: str | None = None,
    outside_rules: bool = False,
) -> tuple[Booking, str]:
    """Book ``service`` at ``start`` with ``provider`` (None: any free provider).

    ``client`` is the client a signed-in account books as; without it the
    booking belongs to the client of ``details.email``, added if new.

    Must run in a transaction that holds the write lock (see
    ``Database.session``): the overlap check and the insert happen under it,
    so two clients cannot both win the same time. Returns the booking and
    the manage token, which is not stored.

    A client's own booking is refused while the client is blocked
    (``ClientBlocked``) or over the business's limits of future bookings per
    e-mail and per address (``BookingLimitReached``). ``created_by="staff"``:
    staff book for the client, who gives no consents, whatever those rules
    say. ``status`` None follows the business: a client's booking waits as
    pending while the business approves bookings; staff bookings stand.
    """
    by_client = created_by == "client"
    if by_client:
        _check_client_may_book(session, business, details, client, consents.ip_address, now)
    if by_client and business.terms_enabled and consents.terms is None:
        raise ConsentMissing("terms")
    if by_client and business.cancellation_policy_enabled and consents.policy is None:
        raise ConsentMissing("cancellation_policy")
    if status is None:
        status = PENDING if by_client and business.approve_bookings else CONFIRMED
    candidates = bookable_providers(session, business, service)
    if provider is not None:
        candidates = [p for p in candidates if p.id == provider.id]
    claim = claim_provider(
        session, business, service, candidates, start, now, outside_rules=outside_rules
    )

    token, token_hash = new_manage_token()
    booking = Booking(
        business_id=business.id,
        client=_find_or_add_client(session, business, details, client),
        service=service,
        provider=claim.provider,
        start_at=start,
        end_at=claim.end,
        occupied_until=claim.occupied_until,
        status=status,
        created_by=created_by,
        ip_address=consents.ip_address[:45],
        price_cents=service.price_cents,
        manage_token_hash=token_hash,
        manage_token_sealed=seal_manage_token(token),
        policy_version=consents.policy,
        client_notes=details.notes if by_client else "",
        created_at=now,
    )
    if consents.terms is not None:
        booking.consents.append(
            BookingConsent(
                kind="terms",
                terms_version=consents.terms,
                accepted_at=now,
                ip_address=consents.ip_address,
            )
        )
    if consents.policy is not None:
        # Booking past a deadline is allowed, once the form has shown the warning; the
        # details step makes sure it did (``portal.booking.pages``), so it is recorded.
        deadlines = slot_deadlines(consents.policy, start, now)
        booking.consents.append(
            BookingConsent(
                kind="cancellation_policy",
                policy_version=consents.policy,
                accepted_at=now,
                ip_address=consents.ip_address,
                deadline_passed_shown=deadlines.any_passed,
            )
        )
    session.add(booking)
    _flush_or_taken(session, start)
    return booking, token


#: What manage tokens are sealed for: the worker opens them to put the link in reminders.
MANAGE_TOKEN_PURPOSE = b"portal manage tokens"


def seal_manage_token(token: str) -> bytes | None:
    """``token`` encrypted with the app's key (the hash alone cannot give the link back).

    None outside an app (domain tests call ``book`` bare): the booking is then
    like one made before reminders existed, whose reminders carry no link.
    """
    if not has_app_context():
        return None
    return SecretBox(encryption_keys(current_app.config), MANAGE_TOKEN_PURPOSE).seal(token)


def open_manage_token(booking: Booking) -> str | None:
    """The booking's manage token, or None when it was never sealed or the key has changed."""
    if booking.manage_token_sealed is None:
        return None
    box = SecretBox(encryption_keys(current_app.config), MANAGE_TOKEN_PURPOSE)
    try:
        return box.open(booking.manage_token_sealed)
    except ValueError:
        return None


def find_booking_by_token(
    session: Session, business: Business, token: str, now: datetime
) -> Booking | None:
    """The booking this manage token opens, or None when unknown or expired.

    A link expires when its appointment has ended.
    """
    if not token or len(token) > 100:
        return None
    booking = session.scalars(
        select(Booking).where(
            Booking.business_id == business.id, Booking.manage_token_hash == hash_token(token)
        )
    ).first()
    if booking is None or booking.end_at <= now:
        return None
    return booking


def _refuse_late(session: Session, booking: Booking, kind: str, now: datetime) -> None:
    """Note a client's late cancel or move: it counts towards the auto-block rule.

    The caller then raises the refusal; the view answers it with a page (a
    409), not an exception, so this note is committed with the request.
    """
    business = session.get(Business, booking.business_id)
    note_client_event(session, business, booking.client_id, kind, booking.id, now)


#: The most a client may write as the reason of a cancellation (``bookings.cancel_reason``).
CANCEL_REASON_MAX = 500


def cancel_by_client(
    session: Session, booking: Booking, now: datetime, reason: str = ""
) -> Booking:
    """Cancel under the policy the client accepted; ``reason`` (optional) is for staff.

    A late attempt changes the booking not at all, but is noted against the
    client (``CancellationTooLate`` follows).
    """
    if not booking.is_active:
        raise AlreadyCancelled()
    if not booking.can_cancel(now):
        _refuse_late(session, booking, LATE_CANCEL_REFUSED, now)
        raise CancellationTooLate(booking.cancel_deadline())
    if len(reason) > CANCEL_REASON_MAX:
        raise ValueError("the form limits the reason to CANCEL_REASON_MAX characters")
    booking.status = CANCELLED
    booking.cancelled_at = now
    booking.cancelled_by = "client"
    booking.cancel_reason = reason
    giftcards.return_on_cancel(session, booking, now)
    session.flush()
    return booking


def reschedule(
    session: Session,
    booking: Booking,
    new_start: datetime,
    now: datetime,
    provider: Provider | None = None,
    *,
    by_staff: bool = False,
    outside_rules: bool = False,
) -> Booking:
    """Move the booking to ``new_start`` under the rescheduling rule its client accepted.

    ``provider`` None: any provider of the service who is free then, the
    booking's own provider first. The booking keeps its row, its manage
    token and its consents. Like ``book`` it must run under the write lock:
    the new time is checked and taken under it; the booking's own current
    time does not count against it. A late attempt changes nothing.
    ``by_staff``: the client's rescheduling rule does not bind staff;
    ``outside_rules`` as for ``claim_provider``.
    """
    if not booking.is_active:
        raise AlreadyCancelled()
    if not by_staff and not booking.can_reschedule(now):
        _refuse_late(session, booking, LATE_RESCHEDULE_REFUSED, now)
        raise RescheduleTooLate(booking.reschedule_deadline())
    business = session.get(Business, booking.business_id)
    candidates = bookable_providers(session, business, booking.service)
    if provider is not None:
        candidates = [p for p in candidates if p.id == provider.id]
    candidates.sort(key=lambda p: p.id != booking.provider_id)
    claim = claim_provider(
        session,
        business,
        booking.service,
        candidates,
        new_start,
        now,
        moving=booking,
        outside_rules=outside_rules,
    )
    if claim.provider.id == booking.provider_id and new_start == booking.start_at:
        raise SameTime()
    booking.provider = claim.provider
    booking.start_at = new_start
    booking.end_at = claim.end
    booking.occupied_until = claim.occupied_until
    booking.rescheduled_at = now
    _flush_or_taken(session, new_start)
    record_event(session, booking, RESCHEDULED, now)
    session.flush()
    return booking


def record_event(session: Session, booking: Booking, kind: str, now: datetime) -> BookingEvent:
    """Record that ``kind`` happened to ``booking``.

    Late attempts go through ``portal.clients.service.note_client_event``
    instead, which also applies the auto-block rule.
    """
    event = BookingEvent(
        business_id=booking.business_id,
        booking_id=booking.id,
        client_id=booking.client_id,
        kind=kind,
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event


_RESCHEDULE_COUNTS = "reschedule_counts"


def times_rescheduled(session: Session, booking: Booking) -> int:
    """How often the booking was moved (read ahead by ``prefetch_reschedule_counts``, if so)."""
    counted = transaction_cache(session, _RESCHEDULE_COUNTS).get(booking.id)
    if counted is not None:
        return counted
    return session.scalar(
        select(func.count()).where(
            BookingEvent.booking_id == booking.id, BookingEvent.kind == RESCHEDULED
        )
    )


def prefetch_reschedule_counts(session: Session, booking_ids: list[int]) -> None:
    """Count the moves of many bookings in one query, for this (read-only) transaction.

    For the outbox worker's batches; a transaction that moves a booking must
    not use it (the count would be stale).
    """
    counts = dict.fromkeys(booking_ids, 0)
    counts.update(
        session.execute(
            select(BookingEvent.booking_id, func.count())
            .where(BookingEvent.booking_id.in_(booking_ids), BookingEvent.kind == RESCHEDULED)
            .group_by(BookingEvent.booking_id)
        ).all()
    )
    transaction_cache(session, _RESCHEDULE_COUNTS).update(counts)


def bookable_services(session: Session, business: Business) -> list[Service]:
    """The services a client can book, in the owner's order."""
    return session.scalars(
        select(Service)
        .where(Service.business_id == business.id, Service.active)
        .order_by(Service.position, Service.name)
    ).all()


def check_day(business: Business, window: BookingWindow, day: date | None) -> None:
    """Refuse a day outside the booking window (``DayNotBookable``); None means no day yet."""
    if day is None:
        return
    if day < window.first_day:
        raise DayNotBookable(_("That day has passed or is too soon to book. Please pick another."))
    if day > window.last_day:
        raise DayNotBookable(
            ngettext(
                "Bookings open %(num)d day ahead. Please pick an earlier day.",
                "Bookings open %(num)d days ahead. Please pick an earlier day.",
                business.max_days_ahead,
            )
        )


@dataclass(frozen=True)
class Documents:
    """The texts a client must accept to book: the current versions, or None when off."""

    terms: TermsVersion | None
    policy: CancellationPolicyVersion | None


def documents_to_accept(session: Session, business: Business) -> Documents:
    """The terms and cancellation policy in force, each only while the business asks for it."""
    return Documents(
        terms=current_terms(session, business) if business.terms_enabled else None,
        policy=current_policy(session, business) if business.cancellation_policy_enabled else None,
    )


def place_booking(
    session: Session,
    business: Business,
    service: Service,
    provider: Provider | None,
    start: datetime,
    details: ClientDetails,
    consents: Consents,
    now: datetime,
    *,
    client: Client | None = None,
    gift_card_code: str = "",
) -> tuple[Booking, str]:
    """A client's online booking, paid in part by a gift card when a code is given.

    Raises ``BookingError`` or ``GiftCardError`` when refused, possibly after
    adding the client's row: the caller raises it on (``portal.booking.pages``),
    so the request's unit of work rolls everything back and the refusal leaves
    no trace.
    """
    booking, token = book(
        session, business, service, provider, start, details, consents, now, client=client
    )
    if gift_card_code.strip() and features.is_on(session, business.id, features.GIFT_CARDS):
        giftcards.redeem(session, business, booking, gift_card_code, now)
    return booking, token


def check_offered(
    session: Session,
    business: Business,
    service: Service,
    candidates: list[Provider],
    start: datetime,
    now: datetime,
    *,
    moving: Booking | None = None,
) -> Slot:
    """The free slot at ``start`` as a client would see it now (a read; nothing is taken).

    Raises ``SlotTaken`` when the business offers the time but it is booked,
    ``SlotUnavailable`` when it does not offer it at all. ``moving``: a
    booking being moved, whose own time counts as free.
    """
    day = business.local(start).date()
    exclude = moving.id if moving is not None else None
    free = slots_on(session, business, service, candidates, day, now, exclude_booking_id=exclude)
    slot = next((slot for slot in free if slot.start == start), None)
    if slot is not None:
        return slot
    offered = slots_on(session, business, service, candidates, day, now, include_bookings=False)
    if any(slot.start == start for slot in offered):
        raise SlotTaken(start)
    raise SlotUnavailable(start)


def client_is_blocked(
    session: Session, business: Business, client: Client, *, also: str = ""
) -> bool:
    """Whether the business stopped ``client`` (or the address ``also``) from booking online."""
    emails = [client.email] + ([also] if also else [])
    return blocked_client(session, business.id, emails, client) is not None


def gift_cards_accepted(session: Session, business: Business) -> bool:
    """Whether a client may pay with a gift card code."""
    return features.is_on(session, business.id, features.GIFT_CARDS)
