"""Which booking news each staff member receives by e-mail.

A member chooses *which bookings* (``notify_scope``): all of the business's,
only their own (the bookings of the provider they sign in as,
``Provider.staff_user_id``), or none; and *which events*
(``notify_events``): new, moved, cancelled, awaiting approval. A member who
never chose has the role's default: the owner hears of every booking, staff
of their own; all events either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.catalog.models import Provider
from portal.web.lazy_text import lazy_text as _l

ALL, OWN, NONE = "all", "own", "none"
SCOPES = (ALL, OWN, NONE)
NEW, MOVED, CANCELLED, PENDING = "new", "moved", "cancelled", "pending"
#: In the order the settings page lists them.
EVENTS = (NEW, PENDING, MOVED, CANCELLED)

SCOPE_LABELS = {
    ALL: _l("All bookings of the business"),
    OWN: _l("Only my own bookings (of the provider I sign in as)"),
    NONE: _l("None"),
}
EVENT_LABELS = {
    NEW: _l("New bookings"),
    PENDING: _l("Booking requests awaiting approval"),
    MOVED: _l("Bookings moved to another time"),
    CANCELLED: _l("Cancellations (by the client or by staff) and declined requests"),
}
CHOOSE_SCOPE = _l("Choose all bookings, only your own, or none.")
CHOOSE_EVENTS = _l("Choose the news from the list.")


class PreferenceError(ValueError):
    """A choice the settings do not offer; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Preferences:
    scope: str
    events: frozenset[str]


def default_scope(user: StaffUser) -> str:
    return ALL if user.is_owner else OWN


def scope_of(user: StaffUser) -> str:
    """The member's choice of bookings, or the role's default if they never chose."""
    return user.notify_scope if user.notify_scope in SCOPES else default_scope(user)


def events_of(user: StaffUser) -> frozenset[str]:
    chosen = (part.strip() for part in (user.notify_events or "").split(","))
    return frozenset(part for part in chosen if part in EVENTS)


def preferences_of(user: StaffUser) -> Preferences:
    return Preferences(scope_of(user), events_of(user))


def wants(user: StaffUser, booking_staff_user_id: int | None, event: str) -> bool:
    """Whether ``user`` wants news of ``event`` about a booking whose provider signs in as
    ``booking_staff_user_id`` (None: a provider nobody signs in as)."""
    scope = scope_of(user)
    if event not in events_of(user) or scope == NONE:
        return False
    return scope == ALL or (booking_staff_user_id is not None and booking_staff_user_id == user.id)


def recipients(
    session: Session, business_id: int, provider: Provider, event: str
) -> list[StaffUser]:
    """The business's members who get news of ``event`` about a booking with ``provider``.

    Only active members who have joined (set a password): an invitation not yet
    taken up gets no booking news.
    """
    members = session.scalars(
        select(StaffUser)
        .where(
            StaffUser.business_id == business_id,
            StaffUser.active,
            StaffUser.password_hash.is_not(None),
        )
        .order_by(StaffUser.id)
    )
    linked = provider.staff_user_id if provider.business_id == business_id else None
    return [member for member in members if wants(member, linked, event)]


def linked_providers(session: Session, user: StaffUser) -> list[Provider]:
    """The active providers of the member's business who sign in as ``user``."""
    return list(
        session.scalars(
            select(Provider)
            .where(
                Provider.business_id == user.business_id,
                Provider.staff_user_id == user.id,
                Provider.active,
            )
            .order_by(Provider.name)
        )
    )


def check(scope: str | None, events) -> Preferences:
    """The choices as stored; a scope or event the page does not offer is refused."""
    if scope not in SCOPES:
        raise PreferenceError(str(CHOOSE_SCOPE), "scope")
    chosen = list(events or ())
    if any(event not in EVENTS for event in chosen):
        raise PreferenceError(str(CHOOSE_EVENTS), "events")
    return Preferences(scope, frozenset(chosen))


def save_preferences(
    session: Session,
    user: StaffUser,
    scope: str | None,
    events,
    now: datetime,
    origin: Origin,
) -> dict[str, list]:
    """Store the member's choices; audit what changed (old and new). Returns the changes."""
    wanted = check(scope, events)
    before = preferences_of(user)
    changes = {}
    if wanted.scope != before.scope:
        changes["notify_scope"] = [before.scope, wanted.scope]
    if wanted.events != before.events:
        changes["notify_events"] = [_csv(before.events), _csv(wanted.events)]
    # The choice is stored even where it equals the role's default: a later change of
    # role keeps what the member chose.
    user.notify_scope = wanted.scope
    user.notify_events = _csv(wanted.events)
    audit.record_changes(session, user, now, origin, "notifications", changes)
    session.flush()
    return changes


def _csv(events) -> str:
    return ",".join(event for event in EVENTS if event in events)
