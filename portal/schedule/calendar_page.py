"""What the calendar page asks for in its query string, checked, and where its buttons return.

Bad input is answered with a 400 (or a 404 for another business's provider)
and a message, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from portal.businesses.models import Business
from portal.catalog.models import Provider
from portal.catalog.service import NO_PROVIDER, all_providers
from portal.clock import utcnow
from portal.extensions import db
from portal.schedule import grid, pages
from portal.schedule import service as schedule
from portal.schedule.chart import day_label
from portal.staff.pages import staff_business

#: Calendar dates outside these years are typing mistakes (and overflow near the edges).
FIRST_YEAR, LAST_YEAR = 1970, 2999
#: The value of ``return_to`` that sends a button on the calendar back to it.
CALENDAR = "calendar"


@dataclass(frozen=True)
class CalendarQuery:
    view: str
    day: date
    provider: Provider | None

    @property
    def provider_value(self) -> str:
        return str(self.provider.id) if self.provider else "all"

    def url(self, **changes) -> str:
        """The calendar's URL with some of ``view``, ``date`` and ``provider`` changed."""
        args = {"view": self.view, "date": self.day.isoformat(), "provider": self.provider_value}
        args.update(changes)
        return url_for("schedule.calendar", **args)


def parse(session: Session, business: Business, today: date, args=None) -> CalendarQuery:
    """The view, day and provider the query string (or ``args``) asks for; 400/404 if bad."""
    args = request.args if args is None else args
    view = args.get("view") or grid.DAY
    if view not in grid.VIEWS:
        abort(400, description=_("Choose the day, week or list view."))
    return CalendarQuery(
        view, _day(args.get("date") or "", today), _provider(session, business, args)
    )


def _day(raw: str, today: date) -> date:
    if not raw:
        return today
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        abort(400, description=_("That date is not valid. Use a date like 2026-03-02."))
    return day


def _provider(session: Session, business: Business, args) -> Provider | None:
    raw = args.get("provider") or "all"
    if raw == "all":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        abort(400, description=_("That provider choice is not valid. Choose one from the list."))
    provider = schedule.find_provider(session, business.id, int(raw))
    if provider is None:
        abort(404, description=NO_PROVIDER)
    return provider


def return_url(session: Session, business: Business, today: date, form) -> str | None:
    """The calendar page a button's form came from (``return_to=calendar``), else None.

    The form repeats the page's ``view``, ``date`` and ``provider``; when they
    are no longer valid (a provider deleted meanwhile), today's day view.
    """
    if form.return_to.data != CALENDAR:
        return None
    fields = {name: request.form.get(f"return_{name}", "") for name in ("view", "date", "provider")}
    try:
        return parse(session, business, today, fields).url()
    except HTTPException:  # a stale page (its provider deleted meanwhile): back to today
        return url_for("schedule.calendar")


def back_to(booking, form) -> str:
    """Where a button on a booking returns: the calendar it was pressed on, or as ``pages`` says."""
    business = staff_business()
    today = business.local(utcnow()).date()
    return return_url(db.session, business, today, form) or pages.back_to(booking, form)


#: The days heading the week view's columns ("Mon 02 Mar").
COLUMN_PATTERNS = {"en": "EEE dd MMM", "de": "EEE, d. MMM"}


def render(business: Business, query: CalendarQuery, cal: grid.Grid, now: datetime):
    """The calendar page: the grid (or list) of ``cal`` and the form to choose another."""
    day_labels = {day: day_label(day, COLUMN_PATTERNS) for day in cal.days}
    return render_template(
        "schedule/calendar.html",
        business=business,
        query=query,
        cal=cal,
        day_labels=day_labels,
        providers=all_providers(db.session, business.id),
        today=business.local(now).date(),
        now=now,
        links=Links(
            free=free_links(cal, day_labels),
            bookings=booking_urls(cal.blocks),
            states={state: str(label) for state, label in grid.STATE_LABELS.items()},
        ),
    )


@dataclass(frozen=True)
class Links:
    """What the grid's template would otherwise work out hundreds of times per page."""

    free: list[FreeLink]
    bookings: dict[int, str]
    states: dict[str, str]


@dataclass(frozen=True)
class FreeLink:
    """A free cell of the grid as the template writes it: a link to book there."""

    classes: str
    href: str
    label: str
    time: str


def free_links(cal: grid.Grid, day_labels: dict[date, str]) -> list[FreeLink]:
    """One link per free cell; a week has hundreds, so each is built here, not in Jinja."""
    new = url_for("schedule.new_booking")
    in_week = cal.view != grid.DAY
    links = []
    for cell in cal.cells:
        if in_week:
            label = _(
                "Book %(provider)s on %(day)s at %(time)s",
                provider=cell.provider.name,
                day=day_labels[cell.day],
                time=cell.time,
            )
        else:
            label = _("Book %(provider)s at %(time)s", provider=cell.provider.name, time=cell.time)
        href = f"{new}?provider={cell.provider.id}&day={cell.day.isoformat()}&time={cell.time}"
        links.append(FreeLink(cell.place.classes, href, label, cell.time))
    return links


#: Any id: replaced in the one URL built, to make every booking's URL from it.
_ID_PLACEHOLDER = 1999999999


def booking_urls(blocks: list[grid.Block]) -> dict[int, str]:
    """Each booking's page, once per booking (the week mentions each twice: grid and list)."""
    pattern = url_for("schedule.show_booking", booking_id=_ID_PLACEHOLDER)
    head, _placeholder, tail = pattern.partition(str(_ID_PLACEHOLDER))
    return {block.booking.id: f"{head}{block.booking.id}{tail}" for block in blocks}
