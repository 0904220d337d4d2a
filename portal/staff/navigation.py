"""The staff area's sidebar: its groups, who sees them, and which entry is the current page.

The page a request shows is matched by its endpoint first (``schedule.booking_rules``)
and then by its blueprint (every ``clients.*`` page belongs to "Clients"), so a new
page of a blueprint is marked without touching this list.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

from portal.businesses.models import Business
from portal.extensions import db
from portal.web.lazy_text import lazy_text as _l


@dataclass(frozen=True)
class Entry:
    endpoint: str
    label: object
    #: Other endpoints, and whole blueprints ("clients."), whose pages this entry stands for.
    also: tuple[str, ...] = ()
    owner_only: bool = False


@dataclass(frozen=True)
class Group:
    key: str
    label: object
    entries: tuple[Entry, ...]
    owner_only: bool = False


GROUPS = (
    Group(
        "calendar",
        _l("Calendar & bookings"),
        (
            Entry("staff.dashboard", _l("Dashboard")),
            Entry("schedule.calendar", _l("Bookings"), ("schedule.",)),
            Entry("messages.failed", _l("Failed e-mails"), ("messages.",), owner_only=True),
        ),
    ),
    Group("clients", _l("Clients"), (Entry("clients.list_clients", _l("Clients"), ("clients.",)),)),
    Group(
        "settings",
        _l("Settings"),
        (
            Entry("catalog.business_settings", _l("Business")),
            Entry("branding.profile", _l("Business profile"), ("branding.",)),
            Entry(
                "catalog.list_services",
                _l("Services"),
                ("catalog.add_service", "catalog.edit_service"),
            ),
            Entry("catalog.list_providers", _l("Providers"), ("catalog.",)),
            Entry("schedule.booking_rules", _l("Booking rules")),
            Entry("policies_admin.edit_terms", _l("Terms & policy"), ("policies_admin.",)),
            Entry("embedding.settings", _l("Embedding"), ("embedding.",)),
            Entry("giftcards.list_cards", _l("Gift cards"), ("giftcards.",)),
        ),
        owner_only=True,
    ),
    Group(
        "security",
        _l("Security & data"),
        (
            Entry("staff.team", _l("Team")),
            Entry("staff.security", _l("Security")),
            Entry("retention.data_page", _l("Data"), ("retention.",)),
            Entry("staff.audit_log", _l("Audit log"), ("audit.",)),
            Entry("hipaa.checklist", _l("HIPAA"), ("hipaa.",)),
        ),
        owner_only=True,
    ),
    Group(
        "account",
        _l("My account"),
        (
            Entry("staff_auth.change_password", _l("Password")),
            Entry("staff_auth.enrol_2fa", _l("Two-factor")),
            Entry("passkeys.manage", _l("Passkeys"), ("passkeys.recovery_codes",)),
            Entry("staff.notifications", _l("Notifications")),
        ),
    ),
)


@dataclass(frozen=True)
class Link:
    url: str
    label: object
    current: bool


@dataclass(frozen=True)
class Section:
    key: str
    label: object
    links: tuple[Link, ...]


@dataclass(frozen=True)
class StaffArea:
    """What the staff layout shows: the business's name and the sidebar."""

    business_name: str
    sections: tuple[Section, ...]


def current_entry(endpoint: str | None, entries: list[Entry]) -> Entry | None:
    """The entry that stands for the page at ``endpoint``: named exactly, else by blueprint."""
    if not endpoint:
        return None
    for entry in entries:
        if endpoint == entry.endpoint or endpoint in entry.also:
            return entry
    for entry in entries:
        if any(name.endswith(".") and endpoint.startswith(name) for name in entry.also):
            return entry
    return None


def visible_groups(is_owner: bool) -> list[Group]:
    """The groups (and their entries) a staff member may open; owners see them all."""
    groups = []
    for group in GROUPS:
        if group.owner_only and not is_owner:
            continue
        entries = tuple(e for e in group.entries if is_owner or not e.owner_only)
        groups.append(Group(group.key, group.label, entries, group.owner_only))
    return groups


def staff_area(staff) -> StaffArea:
    """The sidebar of ``staff`` (a signed-in staff user) on the current request's page."""
    groups = visible_groups(bool(staff.is_owner))
    current = current_entry(request.endpoint, [e for g in groups for e in g.entries])
    business = db.session.get(Business, staff.business_id)
    sections = tuple(
        Section(
            group.key,
            group.label,
            tuple(Link(url_for(e.endpoint), e.label, e is current) for e in group.entries),
        )
        for group in groups
    )
    return StaffArea(business.name if business else "Portal", sections)
