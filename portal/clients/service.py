"""Clients as staff see them, blocking, and the rules against abusive booking.

Plain functions over a session. Every lookup takes the business it is scoped
to; a client of another business is simply not found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import ClientAccount
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.audit.service import Origin
from portal.booking.late_cancellations import count_late_cancellations
from portal.booking.models import (
    ACTIVE_STATUSES,
    LATE_CANCEL_REFUSED,
    LATE_RESCHEDULE_REFUSED,
    NO_SHOW,
    Booking,
    BookingConsent,
    BookingEvent,
)
from portal.businesses.models import Business
from portal.clients.models import Client
from portal.db import MAX_ID

PER_PAGE = 50
#: Longer searches are typing accidents (or attempts to make the database work hard).
MAX_QUERY_LENGTH = 200
#: The most bookings a client's page lists, newest first.
MAX_BOOKINGS_SHOWN = 200

#: Owner settings of these rules, edited on the Booking rules page.
CLIENT_RULES = (
    "max_future_bookings_per_client",
    "max_future_bookings_per_address",
    "auto_block_after",
)
AUTO_BLOCK_MAX = 20
BOOKING_LIMIT_MAX = 100

#: Booking events that count towards blocking a client automatically.
LATE_ATTEMPTS = (LATE_CANCEL_REFUSED, LATE_RESCHEDULE_REFUSED)
COUNTED_EVENTS = (*LATE_ATTEMPTS, NO_SHOW)

PER_CLIENT = "client"
PER_ADDRESS = "address"

_PHONE_QUERY = re.compile(r"^[0-9 ()./+-]+$")
_PHONE_PUNCTUATION = (" ", "-", "/", "(", ")", ".", "+")


class ClientError(Exception):
    """A staff action on a client that its state does not allow."""


class AlreadyBlocked(ClientError):
    def __init__(self) -> None:
        super().__init__(_("This client is already blocked; nothing was changed."))


class NotBlocked(ClientError):
    def __init__(self) -> None:
        super().__init__(_("This client is not blocked; nothing was changed."))


# Looking clients up ----------------------------------------------------------


@dataclass(frozen=True)
class ClientPage:
    """One page of the client list."""

    clients: list[Client]
    query: str
    page: int
    pages: int
    total: int
    accounts: frozenset[int]

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phone_digits(column) -> ColumnElement:
    for mark in _PHONE_PUNCTUATION:
        column = func.replace(column, mark, "")
    return column


def _search_filter(query: str) -> ColumnElement:
    """Name, e-mail or phone contains ``query``, ignoring case (and a phone's spacing)."""
    pattern = _like(query.lower())
    matches = [
        func.lower(Client.name).like(pattern, escape="\\"),
        func.lower(Client.email).like(pattern, escape="\\"),
        Client.phone.like(pattern, escape="\\"),
    ]
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3 and _PHONE_QUERY.match(query):
        matches.append(_phone_digits(Client.phone).like(_like(digits), escape="\\"))
    return or_(*matches)


def search_clients(session: Session, business_id: int, query: str, page: int) -> ClientPage:
    """Page ``page`` (from 1) of the business's clients matching ``query``, by name.

    An empty query lists everyone. A page past the end comes back empty, with
    ``pages`` saying how many there are.
    """
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    where = [Client.business_id == business_id]
    if query:
        where.append(_search_filter(query))
    total = session.scalar(select(func.count()).select_from(Client).where(*where)) or 0
    clients = list(
        session.scalars(
            select(Client)
            .where(*where)
            .order_by(func.lower(Client.name), Client.id)
            .offset((page - 1) * PER_PAGE)
            .limit(PER_PAGE)
        )
    )
    return ClientPage(
        clients=clients,
        query=query,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        total=total,
        accounts=_with_accounts(session, business_id, [c.id for c in clients]),
    )


def find_clients(session: Session, business_id: int, query: str, limit: int) -> list[Client]:
    """At most ``limit`` of the business's clients matching ``query`` (see ``search_clients``)."""
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        return []
    return list(
        session.scalars(
            select(Client)
            .where(Client.business_id == business_id, _search_filter(query))
            .order_by(func.lower(Client.name), Client.id)
            .limit(limit)
        )
    )


def _with_accounts(session: Session, business_id: int, client_ids: list[int]) -> frozenset[int]:
    if not client_ids:
        return frozenset()
    return frozenset(
        session.scalars(
            select(ClientAccount.client_id).where(
                ClientAccount.business_id == business_id, ClientAccount.client_id.in_(client_ids)
            )
        )
    )


def find_client(session: Session, business_id: int, client_id: int) -> Client | None:
    """The business's client ``client_id``, or None."""
    if not 0 < client_id <= MAX_ID:
        return None
    return session.scalars(
        select(Client).where(Client.id == client_id, Client.business_id == business_id)
    ).first()


@dataclass(frozen=True)
class ClientOverview:
    """What a client's page shows besides the client record."""

    bookings: list[Booking]
    more_bookings: bool
    has_account: bool
    no_shows: int
    late_attempts: int
    #: Counted as on the dashboard (``portal.booking.late_cancellations``).
    late_cancellations: int = 0

    @property
    def consents(self) -> list[BookingConsent]:
        """The consents of the bookings shown, newest first."""
        found = [consent for booking in self.bookings for consent in booking.consents]
        return sorted(found, key=lambda consent: (consent.accepted_at, consent.id), reverse=True)


def event_counts(session: Session, client: Client) -> dict[str, int]:
    """Of how many bookings the client has an event of each kind."""
    rows = session.execute(
        select(BookingEvent.kind, func.count(BookingEvent.booking_id.distinct()))
        .where(BookingEvent.business_id == client.business_id, BookingEvent.client_id == client.id)
        .group_by(BookingEvent.kind)
    )
    return dict(rows.all())


def client_overview(session: Session, client: Client) -> ClientOverview:
    """The client's bookings (newest appointment first) with consents, and their record."""
    bookings = list(
        session.scalars(
            select(Booking)
            .where(Booking.business_id == client.business_id, Booking.client_id == client.id)
            .options(
                selectinload(Booking.consents).selectinload(BookingConsent.terms_version),
                selectinload(Booking.consents).selectinload(BookingConsent.policy_version),
                selectinload(Booking.service),
                selectinload(Booking.provider),
            )
            .order_by(Booking.start_at.desc(), Booking.id.desc())
            .limit(MAX_BOOKINGS_SHOWN + 1)
        )
    )
    counts = event_counts(session, client)
    return ClientOverview(
        bookings=bookings[:MAX_BOOKINGS_SHOWN],
        more_bookings=len(bookings) > MAX_BOOKINGS_SHOWN,
        has_account=bool(_with_accounts(session, client.business_id, [client.id])),
        no_shows=counts.get(NO_SHOW, 0),
        late_attempts=sum(counts.get(kind, 0) for kind in LATE_ATTEMPTS),
        late_cancellations=count_late_cancellations(session, client.business_id, client.id),
    )


# Blocking ----------------------------------------------------------------------


def _set_blocked(client: Client, blocked: bool, reason: str, now: datetime) -> dict[str, list]:
    values = {
        "blocked": blocked,
        "blocked_reason": reason,
        "blocked_at": now if blocked else None,
    }
    return audit.apply_changes(client, values, ("blocked", "blocked_reason", "blocked_at"))


def block_client(
    session: Session, client: Client, actor, reason: str, now: datetime, origin: Origin
) -> Client:
    """Stop the client from booking by themselves; staff can still book for them."""
    if client.blocked:
        raise AlreadyBlocked()
    changes = _set_blocked(client, True, reason, now)
    audit.record(
        session,
        audit.CLIENT_BLOCKED,
        now,
        business_id=client.business_id,
        actor=actor,
        origin=origin,
        client=client.id,
        email=client.email,
        changes=changes,
    )
    session.flush()
    return client


def unblock_client(
    session: Session, client: Client, actor, now: datetime, origin: Origin
) -> Client:
    """Let the client book by themselves again; the auto-block count starts afresh."""
    if not client.blocked:
        raise NotBlocked()
    changes = _set_blocked(client, False, "", now)
    audit.record(
        session,
        audit.CLIENT_UNBLOCKED,
        now,
        business_id=client.business_id,
        actor=actor,
        origin=origin,
        client=client.id,
        email=client.email,
        changes=changes,
    )
    session.flush()
    return client


def blocked_client(
    session: Session, business_id: int, emails: Iterable[str], client: Client | None = None
) -> Client | None:
    """The blocked client behind a booking attempt, or None when it may go ahead.

    ``client`` is the client a signed-in account books as. Otherwise the
    e-mail addresses decide, ignoring case: a client record with one of them,
    or a client account with one of them, that is blocked.
    """
    if client is not None and client.blocked:
        return client
    wanted = {email.strip().lower() for email in emails if email and email.strip()}
    if not wanted:
        return None
    accounts = select(ClientAccount.client_id).where(
        ClientAccount.business_id == business_id, func.lower(ClientAccount.email).in_(wanted)
    )
    return session.scalars(
        select(Client)
        .where(
            Client.business_id == business_id,
            Client.blocked,
            or_(func.lower(Client.email).in_(wanted), Client.id.in_(accounts)),
        )
        .order_by(Client.id)
    ).first()


# Booking limits --------------------------------------------------------------------


@dataclass(frozen=True)
class LimitReached:
    """Which booking limit a new booking would exceed: per client e-mail or per address."""

    scope: str
    limit: int


def _future_bookings(business_id: int, now: datetime) -> Select:
    return (
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.business_id == business_id,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.start_at > now,
            # Bookings staff made for a client are the business's own choice.
            Booking.created_by == "client",
        )
    )


def booking_limit_reached(
    session: Session,
    business: Business,
    *,
    email: str,
    client: Client | None,
    ip_address: str,
    now: datetime,
) -> LimitReached | None:
    """The limit a client's new online booking would exceed, or None.

    Counts the future active bookings clients made online: those of the
    e-mail address (or the signed-in ``client``), and those made from
    ``ip_address``. A limit of 0 is no limit. Run it in the booking's write
    transaction so that two requests cannot both take the last place.
    """
    per_client = business.max_future_bookings_per_client
    if per_client:
        same_client = func.lower(Client.email) == email.strip().lower()
        if client is not None:
            same_client = or_(same_client, Booking.client_id == client.id)
        held = session.scalar(_future_bookings(business.id, now).join(Client).where(same_client))
        if held >= per_client:
            return LimitReached(PER_CLIENT, per_client)
    per_address = business.max_future_bookings_per_address
    if per_address and ip_address:
        held = session.scalar(
            _future_bookings(business.id, now).where(Booking.ip_address == ip_address)
        )
        if held >= per_address:
            return LimitReached(PER_ADDRESS, per_address)
    return None


# Late attempts and no-shows ------------------------------------------------------


def auto_block_reason(limit: int) -> str:
    return f"Blocked automatically after {limit} late cancellations or no-shows"


def _last_unblocked_at(session: Session, client: Client) -> datetime | None:
    """When staff last unblocked the client, from the audit log."""
    events = session.execute(
        select(AuditEvent.created_at, AuditEvent.details)
        .where(
            AuditEvent.business_id == client.business_id,
            AuditEvent.kind == audit.CLIENT_UNBLOCKED,
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    for created_at, details in events:
        if (details or {}).get("client") == client.id:
            return created_at
    return None


def counted_events(session: Session, client: Client) -> int:
    """Late attempts and no-shows since the client was last unblocked (or ever).

    Pressing "cancel" three times on one booking is one late attempt: each
    kind counts once per booking.
    """
    events = (
        select(BookingEvent.kind, BookingEvent.booking_id)
        .where(
            BookingEvent.business_id == client.business_id,
            BookingEvent.client_id == client.id,
            BookingEvent.kind.in_(COUNTED_EVENTS),
        )
        .distinct()
    )
    since = _last_unblocked_at(session, client)
    if since is not None:
        events = events.where(BookingEvent.created_at > since)
    return session.scalar(select(func.count()).select_from(events.subquery())) or 0


def note_client_event(
    session: Session,
    business: Business,
    client_id: int,
    kind: str,
    booking_id: int,
    now: datetime,
) -> BookingEvent:
    """Record a late cancellation or reschedule attempt or a no-show, and apply the rule.

    With ``business.auto_block_after`` set to N, the client is blocked once
    they have N such events (counted since staff last unblocked them); the
    block is audited as done by the system.
    """
    if kind not in COUNTED_EVENTS:
        raise ValueError(f"not a client event: {kind}")
    event = BookingEvent(
        business_id=business.id,
        booking_id=booking_id,
        client_id=client_id,
        kind=kind,
        created_at=now,
    )
    session.add(event)
    session.flush()
    limit = business.auto_block_after
    client = find_client(session, business.id, client_id)
    if not limit or client is None or client.blocked:
        return event
    if counted_events(session, client) >= limit:
        changes = _set_blocked(client, True, auto_block_reason(limit), now)
        audit.record(
            session,
            audit.CLIENT_BLOCKED,
            now,
            business_id=business.id,
            actor_kind="system",
            actor_label="system",
            client=client.id,
            email=client.email,
            rule=limit,
            changes=changes,
        )
        session.flush()
    return event
