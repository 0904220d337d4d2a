"""The owner's business set-up: settings, services, providers, weekly hours, days off.

Plain functions: each takes a session, the business, the new values and
``now`` (with who acts and from where, for the audit log), flushes its
changes and raises ``CatalogError`` with a message for the owner when a rule
says no, before it changes anything. The request's unit of work commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.booking.models import ACTIVE_STATUSES, Booking
from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, ServiceTranslation, WorkingHours
from portal.db import MAX_ID
from portal.web.formatting import short_date
from portal.web.lazy_text import lazy_text as _l
from portal.web.owner_texts import other_language

#: Weekday keys (form field names, audit log); WEEKDAY_NAMES are what people read.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAY_NAMES = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
LOCALES = {"en": "English", "de": "Deutsch"}
#: Stretches of work a provider may have on one weekday.
MAX_STRETCHES = 2
#: Keeps prices well inside the database's integer column.
MAX_PRICE_CENTS = 100_000_000

CREATED, UPDATED, ARCHIVED, RESTORED, DELETED = (
    "created",
    "updated",
    "archived",
    "restored",
    "deleted",
)


class CatalogError(ValueError):
    """A set-up change the rules refuse; ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InUse(CatalogError):
    """A service or provider still has upcoming bookings."""


@dataclass(frozen=True)
class Limit:
    """An inclusive range of whole numbers and what to say outside it."""

    low: int
    high: int
    message: str
    step: int = 1

    def check(self, value: int, field: str) -> int:
        if not isinstance(value, int) or not self.low <= value <= self.high:
            raise CatalogError(self.message, field)
        if value % self.step:
            raise CatalogError(_("Use a multiple of %(step)d minutes.", step=self.step), field)
        return value


MIN_NOTICE = Limit(
    0, 43200, _l("The minimum notice must be between 0 and 43200 minutes (30 days).")
)
MAX_DAYS_AHEAD = Limit(1, 730, _l("Bookings may open between 1 and 730 days ahead."))
SLOT_STEP = Limit(5, 240, _l("The slot step must be between 5 and 240 minutes."), step=5)
DURATION = Limit(5, 720, _l("The duration must be between 5 and 720 minutes."))
BUFFER = Limit(0, 240, _l("The buffer must be between 0 and 240 minutes."))
#: Lengths of the texts an owner types, and what to say when one is longer.
NAME_MAX, DESCRIPTION_MAX, NOTE_MAX = 200, 2000, 200
NAME_TOO_LONG = _l("Keep the name under 200 characters.")
DESCRIPTION_TOO_LONG = _l("Keep the description under 2000 characters.")
TRANSLATED_NAME_MISSING = _l("Give the name too: a description without a name cannot be shown.")
NOTE_TOO_LONG = _l("Keep the note under 200 characters.")
CHOOSE_LOCALE = _l("Choose English or Deutsch.")
NO_SERVICE = _l("There is no such service at this business.")
NO_PROVIDER = _l("There is no such provider at this business.")
NO_MEMBER = _l("Choose a staff member of this business from the list.")
#: ``update_provider`` leaves whom the provider signs in as unchanged.
KEEP = object()
#: Said when an id in a checklist is not one of the business's rows.
CHOOSE_FROM_LIST = {
    "providers": _l("Choose providers from the list."),
    "services": _l("Choose services from the list."),
}


@dataclass(frozen=True)
class Actor:
    """Who makes a change, when and from where: what the audit log records."""

    user: object
    now: datetime
    origin: Origin = audit.SYSTEM


# -- looking things up -----------------------------------------------------------------


def all_services(session: Session, business_id: int) -> list[Service]:
    """The business's services, open ones first, in the order the business lists them."""
    return list(
        session.scalars(
            select(Service)
            .where(Service.business_id == business_id)
            .order_by(Service.active.desc(), Service.position, Service.name)
        )
    )


def all_providers(session: Session, business_id: int) -> list[Provider]:
    """All providers of the business, active ones first, by name."""
    return list(
        session.scalars(
            select(Provider)
            .where(Provider.business_id == business_id)
            .order_by(Provider.active.desc(), Provider.name, Provider.id)
        )
    )


def active_rows(session: Session, business_id: int, model) -> list:
    """The business's active services or providers (``model``), by name: a form's choices."""
    return list(
        session.scalars(
            select(model).where(model.business_id == business_id, model.active).order_by(model.name)
        )
    )


def find_day_off(session: Session, provider: Provider, day_off_id: int) -> DayOff | None:
    """The provider's day off ``day_off_id``, or None."""
    day_off = session.get(DayOff, day_off_id) if 0 < day_off_id <= MAX_ID else None
    return day_off if day_off is not None and day_off.provider_id == provider.id else None


def upcoming_days_off(business: Business, provider: Provider, now: datetime) -> list[DayOff]:
    """The provider's days off from today (the business's today) on."""
    today = business.local(now).date()
    return [day_off for day_off in provider.days_off if day_off.day >= today]


# -- business settings -----------------------------------------------------------------

BUSINESS_FIELDS = (
    "name",
    "timezone",
    "locale",
    "min_notice_minutes",
    "max_days_ahead",
    "slot_step_minutes",
    "contact_email",
    "reminder_hours",
    "agenda_minute",
)
#: The client reminders a business may choose: hours before the appointment, as stored.
REMINDER_CHOICES = ("", "24", "2", "48", "24,2", "48,2", "48,24")
CHOOSE_REMINDERS = _l("Choose the reminders from the list.")
CONTACT_EMAIL_INVALID = _l(
    "Enter a valid e-mail address, like hello@example.com, or leave it empty."
)
AGENDA_MINUTE = Limit(0, 24 * 60 - 1, _l("Use HH:MM between 00:00 and 23:59, like 07:30."))


@lru_cache(maxsize=1)
def timezone_names() -> frozenset[str]:
    """IANA timezone names; host-specific aliases such as "localtime" are left out."""
    return frozenset(available_timezones() - {"localtime", "Factory", "posixrules"})


def check_timezone(name: str) -> str:
    if name not in timezone_names():
        raise CatalogError(
            _("Unknown timezone %(name)s; use an IANA name like Europe/Berlin.", name=repr(name)),
            "timezone",
        )
    return name


def check_contact_email(address: str | None) -> str:
    """The address as stored (blank: none); refused unless it is a well-formed address."""
    address = (address or "").strip()
    if not address:
        return ""
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        raise CatalogError(str(CONTACT_EMAIL_INVALID), "contact_email") from None
    if len(address) > 254:
        raise CatalogError(str(CONTACT_EMAIL_INVALID), "contact_email")
    return address


def update_business(
    session: Session, business: Business, values: dict, actor: Actor
) -> dict[str, list]:
    """Change the business's name, timezone, locale, booking window, reply-to address,
    client reminders and agenda time; audit each change."""
    values = dict(values)
    if "contact_email" in values:
        values["contact_email"] = check_contact_email(values["contact_email"])
    if "reminder_hours" in values and values["reminder_hours"] not in REMINDER_CHOICES:
        raise CatalogError(str(CHOOSE_REMINDERS), "reminder_hours")
    if values.get("agenda_minute") is not None:
        AGENDA_MINUTE.check(values["agenda_minute"], "agenda_time")
    if "name" in values:
        values["name"] = _required_name(values["name"], _("The business needs a name."))
    if "timezone" in values:
        check_timezone(values["timezone"])
    if "locale" in values and values["locale"] not in LOCALES:
        raise CatalogError(str(CHOOSE_LOCALE), "locale")
    for field, limit in (
        ("min_notice_minutes", MIN_NOTICE),
        ("max_days_ahead", MAX_DAYS_AHEAD),
        ("slot_step_minutes", SLOT_STEP),
    ):
        if field in values:
            limit.check(values[field], field)
    changes = audit.apply_changes(business, values, BUSINESS_FIELDS)
    audit.record_changes(session, actor.user, actor.now, actor.origin, "business", changes)
    session.flush()
    return changes


# -- services --------------------------------------------------------------------------

SERVICE_FIELDS = ("name", "description", "duration_minutes", "price_cents", "buffer_minutes")


def create_service(
    session: Session,
    business: Business,
    values: dict,
    actor: Actor,
    provider_ids: list[int] = (),
) -> Service:
    """Add a service, open for booking with the chosen providers.

    ``values["translation"]``, if given, is ``(name, description)`` in the business's
    other language (see ``set_translation``).
    """
    translation = _checked_translation(values.get("translation"))
    values = _checked_service_values(session, business, values)
    service = Service(business_id=business.id, active=True, **values)
    service.providers = _business_rows(session, business, Provider, provider_ids, "providers")
    session.add(service)
    session.flush()
    changes = {field: [None, value] for field, value in values.items()}
    changes["providers"] = [None, _names(service.providers)]
    if translation is not None:
        changes.update(set_translation(business, service, *translation))
    _record(session, actor, "services", changes, CREATED, service=service)
    return service


def update_service(
    session: Session,
    business: Business,
    service: Service,
    values: dict,
    actor: Actor,
    provider_ids: list[int] | None = None,
) -> dict[str, list]:
    """Change a service and who performs it; audit the old and new values."""
    _ensure_owned(business, service)
    translation = _checked_translation(values.get("translation"))
    values = _checked_service_values(session, business, values, service)
    chosen = None
    if provider_ids is not None:
        chosen = _business_rows(session, business, Provider, provider_ids, "providers")
    # Every check is done: from here on the changes are made.
    changes = audit.apply_changes(service, values, SERVICE_FIELDS)
    if chosen is not None:
        service.providers, change = _relinked(service.providers, chosen)
        if change:
            changes["providers"] = change
    if translation is not None:
        changes.update(set_translation(business, service, *translation))
    _record(session, actor, "services", changes, UPDATED, service=service)
    session.flush()
    return changes


def _checked_translation(pair) -> tuple[str, str] | None:
    """``(name, description)`` stripped and within the originals' limits; None if not given."""
    if pair is None:
        return None
    name, description = ((text or "").strip() for text in pair)
    if len(name) > NAME_MAX:
        raise CatalogError(str(NAME_TOO_LONG), "translated_name")
    if len(description) > DESCRIPTION_MAX:
        raise CatalogError(str(DESCRIPTION_TOO_LONG), "translated_description")
    if description and not name:
        raise CatalogError(str(TRANSLATED_NAME_MISSING), "translated_name")
    return name, description


def set_translation(
    business: Business, service: Service, name: str, description: str
) -> dict[str, list]:
    """Give ``service`` its name and description in the business's other language.

    An empty name removes the translation (clients then read the original).
    Service texts are not versioned (bookings name the service, not its wording),
    so the one translation row is changed in place. Returns audit changes.
    """
    language = other_language(business)
    row = next((t for t in service.translations if t.locale == language), None)
    before = [row.name, row.description] if row is not None else ["", ""]
    if not name:
        if row is not None:
            service.translations.remove(row)
    elif row is None:
        service.translations.append(
            ServiceTranslation(locale=language, name=name, description=description)
        )
    else:
        row.name, row.description = name, description
    after = [name, description if name else ""]
    changes = {}
    for field, old, new in zip(("name", "description"), before, after, strict=True):
        if old != new:
            changes[f"{field}_{language}"] = [old or None, new or None]
    return changes


def _relinked(linked: list, chosen: list) -> tuple[list, list | None]:
    """The ``chosen`` rows plus the archived ones already linked, and [old, new] names if changed.

    Archived rows are not offered in the forms; their links stay for history.
    """
    before = _names(linked)
    relinked = _unique(chosen + [row for row in linked if not row.active])
    after = _names(relinked)
    return relinked, ([before, after] if after != before else None)


def delete_service(session: Session, business: Business, service: Service, actor: Actor) -> str:
    """Delete a service, or archive it if bookings remember it; refused while bookings are upcoming.

    Returns ``DELETED`` or ``ARCHIVED``.
    """
    _ensure_owned(business, service)
    upcoming = upcoming_bookings(session, Booking.service_id == service.id, actor.now)
    if upcoming:
        raise InUse(
            ngettext(
                "%(num)d upcoming booking uses this service; cancel or move them first. "
                "Nothing was changed.",
                "%(num)d upcoming bookings use this service; cancel or move them first. "
                "Nothing was changed.",
                upcoming,
            )
        )
    return _archive_or_delete(session, service, Booking.service_id == service.id, actor, "services")


def restore_service(session: Session, business: Business, service: Service, actor: Actor) -> None:
    """Open an archived service for booking again."""
    _ensure_owned(business, service)
    if service.active:
        return
    _check_unique_service_name(session, business, service.name, service)
    service.active = True
    _record(session, actor, "services", {"active": [False, True]}, RESTORED, service=service)
    session.flush()


def _checked_service_values(
    session: Session, business: Business, values: dict, service: Service | None = None
) -> dict:
    values = {field: values[field] for field in SERVICE_FIELDS if field in values}
    if "name" in values or service is None:
        values["name"] = _required_name(values.get("name", ""), _("The service needs a name."))
        _check_unique_service_name(session, business, values["name"], service)
    if service is None or "description" in values:
        values["description"] = (values.get("description") or "").strip()
        if len(values["description"]) > DESCRIPTION_MAX:
            raise CatalogError(str(DESCRIPTION_TOO_LONG), "description")
    if service is None or "duration_minutes" in values:
        DURATION.check(values.get("duration_minutes"), "duration_minutes")
    if service is None or "buffer_minutes" in values:
        BUFFER.check(values.get("buffer_minutes", 0), "buffer_minutes")
        values.setdefault("buffer_minutes", 0)
    if service is None or "price_cents" in values:
        price = values.setdefault("price_cents", 0)
        if not isinstance(price, int) or not 0 <= price <= MAX_PRICE_CENTS:
            raise CatalogError(_("The price must be between 0.00 and 1000000.00."), "price_cents")
    return values


def _check_unique_service_name(
    session: Session, business: Business, name: str, service: Service | None
) -> None:
    query = select(Service.id).where(
        Service.business_id == business.id,
        Service.active,
        func.lower(Service.name) == name.lower(),
    )
    if service is not None and service.id is not None:
        query = query.where(Service.id != service.id)
    if session.scalar(query) is not None:
        raise CatalogError(
            _("There is already a service called %(name)s; choose another name.", name=repr(name)),
            "name",
        )


# -- providers -------------------------------------------------------------------------


def create_provider(
    session: Session,
    business: Business,
    name: str,
    actor: Actor,
    service_ids: list[int] = (),
    staff_user_id: int | None = None,
) -> Provider:
    """Add a provider performing the chosen services; weekly hours are set separately.

    ``staff_user_id``: the staff member who is this provider (gets its booking news
    and agenda), or None.
    """
    name = _required_name(name, _("The provider needs a name."))
    member = _member(session, business, staff_user_id)
    provider = Provider(business_id=business.id, name=name, active=True)
    provider.services = _business_rows(session, business, Service, service_ids, "services")
    provider.staff_user_id = member.id if member is not None else None
    session.add(provider)
    session.flush()
    changes = {"name": [None, name], "services": [None, _names(provider.services)]}
    if member is not None:
        changes["signs_in_as"] = [None, member.email]
    _record(session, actor, "providers", changes, CREATED, provider=provider)
    return provider


def update_provider(
    session: Session,
    business: Business,
    provider: Provider,
    name: str,
    actor: Actor,
    service_ids: list[int] | None = None,
    staff_user_id=KEEP,
) -> dict[str, list]:
    """Rename a provider, change the services they perform and whom they sign in as
    (``staff_user_id``: a member's id, None for nobody, ``KEEP`` to leave it)."""
    _ensure_owned(business, provider)
    name = _required_name(name, _("The provider needs a name."))
    chosen = None
    if service_ids is not None:
        chosen = _business_rows(session, business, Service, service_ids, "services")
    unchanged = staff_user_id is KEEP or staff_user_id == provider.staff_user_id
    member = KEEP if unchanged else _member(session, business, staff_user_id)
    # Every check is done: from here on the changes are made.
    changes = audit.apply_changes(provider, {"name": name}, ("name",))
    if chosen is not None:
        provider.services, change = _relinked(provider.services, chosen)
        if change:
            changes["services"] = change
    if member is not KEEP:
        change = _relinked_member(session, provider, member)
        if change:
            changes["signs_in_as"] = change
    _record(session, actor, "providers", changes, UPDATED, provider=provider)
    session.flush()
    return changes


def delete_provider(session: Session, business: Business, provider: Provider, actor: Actor) -> str:
    """Delete a provider, or archive them if bookings remember them; refused while bookings are upcoming.

    Returns ``DELETED`` or ``ARCHIVED``.
    """
    _ensure_owned(business, provider)
    upcoming = upcoming_bookings(session, Booking.provider_id == provider.id, actor.now)
    if upcoming:
        raise InUse(
            ngettext(
                "%(num)d upcoming booking is with this provider; cancel or move them first. "
                "Nothing was changed.",
                "%(num)d upcoming bookings are with this provider; cancel or move them first. "
                "Nothing was changed.",
                upcoming,
            )
        )
    return _archive_or_delete(
        session, provider, Booking.provider_id == provider.id, actor, "providers"
    )


def restore_provider(
    session: Session, business: Business, provider: Provider, actor: Actor
) -> None:
    """Let clients book an archived provider again."""
    _ensure_owned(business, provider)
    if provider.active:
        return
    provider.active = True
    _record(session, actor, "providers", {"active": [False, True]}, RESTORED, provider=provider)
    session.flush()


def check_day(stretches: list[tuple[time, time]], weekday: int = 0) -> list[tuple[time, time]]:
    """The stretches of one weekday, in order; refused if one is empty or two overlap."""
    day = WEEKDAY_NAMES[weekday]
    if len(stretches) > MAX_STRETCHES:
        raise CatalogError(
            _("%(day)s: at most %(num)d stretches a day.", day=day, num=MAX_STRETCHES)
        )
    ordered = sorted(stretches)
    for starts, ends in ordered:
        if not starts < ends:
            raise CatalogError(
                _(
                    "%(day)s: the start (%(start)s) must be before the end (%(end)s).",
                    day=day,
                    start=f"{starts:%H:%M}",
                    end=f"{ends:%H:%M}",
                )
            )
    for (__, first_ends), (second_starts, __) in zip(ordered, ordered[1:], strict=False):
        if second_starts < first_ends:
            raise CatalogError(_("%(day)s: the two stretches overlap.", day=day))
    return ordered


def set_weekly_hours(
    session: Session,
    business: Business,
    provider: Provider,
    hours: dict[int, list[tuple[time, time]]],
    actor: Actor,
) -> dict[str, list]:
    """Replace the provider's weekly hours (weekday 0 = Monday -> stretches of work)."""
    _ensure_owned(business, provider)
    if set(hours) - set(range(7)):
        raise CatalogError(_("Weekdays are numbered 0 (Monday) to 6 (Sunday)."))
    wanted = {weekday: check_day(hours.get(weekday, []), weekday) for weekday in range(7)}
    current: dict[int, list[tuple[time, time]]] = {weekday: [] for weekday in range(7)}
    for row in provider.working_hours:
        current[row.weekday].append((row.starts, row.ends))
    changes = {
        WEEKDAYS[weekday]: [
            _stretches_text(sorted(current[weekday])),
            _stretches_text(wanted[weekday]),
        ]
        for weekday in range(7)
        if sorted(current[weekday]) != wanted[weekday]
    }
    if not changes:
        return changes
    provider.working_hours.clear()
    session.flush()
    for weekday, stretches in wanted.items():
        for starts, ends in stretches:
            provider.working_hours.append(WorkingHours(weekday=weekday, starts=starts, ends=ends))
    _record(session, actor, "providers", changes, "hours", provider=provider)
    session.flush()
    return changes


def add_day_off(
    session: Session,
    business: Business,
    provider: Provider,
    day: date,
    note: str,
    actor: Actor,
) -> DayOff:
    """Give the provider a day off (today or later) in the business's calendar."""
    _ensure_owned(business, provider)
    today = business.local(actor.now).date()
    if day < today:
        raise CatalogError(_("That day has passed; choose today or a later day."), "day")
    if any(existing.day == day for existing in provider.days_off):
        raise CatalogError(
            _("%(name)s already has %(day)s off.", name=provider.name, day=short_date(day)), "day"
        )
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise CatalogError(str(NOTE_TOO_LONG), "note")
    day_off = DayOff(day=day, note=note)
    provider.days_off.append(day_off)
    _record(
        session,
        actor,
        "providers",
        {"day_off": [None, _day_off_text(day_off)]},
        "day_off_added",
        provider=provider,
    )
    session.flush()
    return day_off


def remove_day_off(
    session: Session, business: Business, provider: Provider, day_off: DayOff, actor: Actor
) -> None:
    """Take a day off back: the provider works their usual hours that day."""
    _ensure_owned(business, provider)
    if day_off.provider_id != provider.id:
        raise CatalogError(_("That day off belongs to someone else."))
    _record(
        session,
        actor,
        "providers",
        {"day_off": [_day_off_text(day_off), None]},
        "day_off_removed",
        provider=provider,
    )
    provider.days_off.remove(day_off)
    session.flush()


# -- shared ----------------------------------------------------------------------------


def upcoming_bookings(session: Session, condition, now: datetime) -> int:
    """How many bookings matching ``condition`` still hold time at or after ``now``."""
    return session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(condition, Booking.status.in_(ACTIVE_STATUSES), Booking.end_at > now)
    )


def _archive_or_delete(session: Session, row, condition, actor: Actor, area: str) -> str:
    kind = "service" if isinstance(row, Service) else "provider"
    if session.scalar(select(exists().where(condition))):
        # Past (or cancelled) bookings still point at it: hide it, keep it for history.
        if row.active:
            row.active = False
            _record(session, actor, area, {"active": [True, False]}, ARCHIVED, **{kind: row})
        session.flush()
        return ARCHIVED
    _record(session, actor, area, {"name": [row.name, None]}, DELETED, **{kind: row})
    session.delete(row)
    session.flush()
    return DELETED


def _record(
    session: Session,
    actor: Actor,
    area: str,
    changes: dict,
    action: str,
    *,
    service: Service | None = None,
    provider: Provider | None = None,
) -> None:
    """One settings-changed event naming the service or provider it concerns."""
    if not changes:
        return
    about = {}
    if service is not None:
        about = {"service_id": service.id, "service": service.name}
    if provider is not None:
        about = {"provider_id": provider.id, "provider": provider.name}
    audit.record(
        session,
        audit.SETTINGS_CHANGED,
        actor.now,
        business_id=actor.user.business_id,
        actor=actor.user,
        origin=actor.origin,
        area=area,
        action=action,
        changes=changes,
        **about,
    )


def _ensure_owned(business: Business, row) -> None:
    if row.business_id != business.id:
        raise CatalogError(_("That belongs to another business."))


def _business_rows(session: Session, business: Business, model, ids, field: str) -> list:
    """The business's active rows with these ids; an id from elsewhere is refused."""
    ids = set(ids)
    if not ids:
        return []
    rows = list(
        session.scalars(
            select(model)
            .where(model.id.in_(ids), model.business_id == business.id, model.active)
            .order_by(model.id)
        )
    )
    if len(rows) != len(ids):
        raise CatalogError(str(CHOOSE_FROM_LIST[field]), field)
    return rows


def linkable_members(session: Session, business_id: int) -> list[StaffUser]:
    """The staff members a provider may sign in as: the business's active ones, by name."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.business_id == business_id, StaffUser.active)
            .order_by(StaffUser.name, StaffUser.email)
        )
    )


def _member(session: Session, business: Business, staff_user_id: int | None) -> StaffUser | None:
    """The business's active staff member ``staff_user_id`` (None: nobody); else refused."""
    if staff_user_id is None:
        return None
    member = session.get(StaffUser, staff_user_id) if 0 < staff_user_id <= MAX_ID else None
    if member is None or member.business_id != business.id or not member.active:
        raise CatalogError(str(NO_MEMBER), "staff_user_id")
    return member


def _relinked_member(session: Session, provider: Provider, member: StaffUser | None) -> list | None:
    """Link ``provider`` to ``member``; [old, new] e-mail addresses if that changed."""
    new_id = member.id if member is not None else None
    if provider.staff_user_id == new_id:
        return None
    old = session.get(StaffUser, provider.staff_user_id) if provider.staff_user_id else None
    provider.staff_user_id = new_id
    return [old.email if old else None, member.email if member else None]


def _required_name(name: str | None, message: str) -> str:
    name = (name or "").strip()
    if not name:
        raise CatalogError(message, "name")
    if len(name) > NAME_MAX:
        raise CatalogError(str(NAME_TOO_LONG), "name")
    return name


def _unique(rows: list) -> list:
    seen: dict[int, object] = {}
    for row in rows:
        seen.setdefault(row.id, row)
    return sorted(seen.values(), key=lambda row: row.id)


def _names(rows) -> str:
    return ", ".join(sorted(row.name for row in rows))


def _stretches_text(stretches: list[tuple[time, time]]) -> str:
    if not stretches:
        return "closed"
    return ", ".join(f"{starts:%H:%M}-{ends:%H:%M}" for starts, ends in stretches)


def _day_off_text(day_off: DayOff) -> str:
    return f"{day_off.day.isoformat()} {day_off.note}".strip()
