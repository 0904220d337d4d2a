"""The staff calendar as a time grid: where each booking, stretch of hours and free cell sits.

Server-rendered, no JavaScript: ``load`` reads one week (or day) in a few
queries, ``layout`` turns it into pieces with a grid position, and the template
prints them with utility classes (``gr37 gs9 gc3``) whose rules, numbers only,
``Grid.css`` writes into one nonce'd ``<style>`` block (the CSP forbids
``style=`` attributes).

Rows are wall-clock time in the business's zone, ``ROW_MINUTES`` each, from
the earliest working-hours start to the latest end of the shown days (08:00 to
18:00 when none is set), widened to whole hours around any booking outside
them. A booking sits at its local start and ends at its local end, so it lines
up with the hour labels on a DST day too; only in the repeated hour of an
autumn change, where the wall clock runs backwards, its real duration counts.

Day view: one column per provider. Week view: one column per day; with all
providers shown, each day is split into one lane per provider, so every free
cell knows whose time it books. List view (``view=list``): the same week as a
list. On phones (below 40rem) the week grid is swapped for that list by a CSS
media query; the day grid stays and scrolls inside its own box when its
providers do not fit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from math import ceil

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.booking.models import ACTIVE_STATUSES, CONFIRMED, Booking
from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, WorkingHours
from portal.catalog.service import all_providers
from portal.clients.models import Client
from portal.schedule.service import local_midnight
from portal.web.lazy_text import lazy_text as _l

DAY, WEEK, LIST = "day", "week", "list"
VIEWS = (DAY, WEEK, LIST)
ROW_MINUTES = 5
#: Free time is offered in pieces of at most this length: one link per half hour and column.
CELL_MINUTES = 30
DEFAULT_HOURS = (8 * 60, 18 * 60)
DAY_MINUTES = 24 * 60

STATE_LABELS = {
    "confirmed": _l("Confirmed"),
    "pending": _l("Pending approval"),
    "cancelled": _l("Cancelled"),
    "declined": _l("Declined"),
    "no-show": _l("No-show"),
    "arrived": _l("Arrived"),
}


def week_days(view: str, day: date) -> list[date]:
    """The days a view shows: ``day`` alone, or its Monday-to-Sunday week."""
    if view == DAY:
        return [day]
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(7)]


# Reading ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """What the calendar shows of a booking: a plain row, read without ORM objects."""

    id: int
    provider_id: int
    start_at: datetime
    end_at: datetime
    occupied_until: datetime
    status: str
    no_show: bool
    arrived_at: datetime | None
    client_name: str
    service_name: str
    #: The client wrote a note when booking (staff open the booking to read it).
    has_note: bool


@dataclass
class Loaded:
    """What one calendar page reads: providers, bookings (with client and service), hours."""

    providers: list[Provider]
    bookings: list[Entry]
    #: (provider id, weekday) -> working stretches in wall-clock time
    hours: dict[tuple[int, int], list[tuple[time, time]]]
    #: (provider id, day) -> the day off's note
    days_off: dict[tuple[int, date], str]


def load(
    session: Session, business: Business, days: list[date], provider: Provider | None
) -> Loaded:
    """The business's bookings starting on ``days`` (every status) and the providers' hours.

    Four queries whatever the number of bookings: clients' and services' names
    come with the bookings (joined), hours and days off for all providers at
    once. Plain rows, not ORM objects: building 120 bookings with their client
    and service as objects took about as long as laying out the whole week.
    """
    query = (
        select(
            Booking.id,
            Booking.provider_id,
            Booking.start_at,
            Booking.end_at,
            Booking.occupied_until,
            Booking.status,
            Booking.no_show,
            Booking.arrived_at,
            Client.name,
            Service.name,
            Booking.client_notes != "",
        )
        .join(Client, Client.id == Booking.client_id)
        .join(Service, Service.id == Booking.service_id)
        .where(
            Booking.business_id == business.id,
            Booking.start_at >= local_midnight(business, days[0]),
            Booking.start_at < local_midnight(business, days[-1] + timedelta(days=1)),
        )
        .order_by(Booking.start_at, Booking.id)
    )
    if provider is not None:
        query = query.where(Booking.provider_id == provider.id)
    bookings = [Entry(*row) for row in session.execute(query)]
    if provider is not None:
        providers = [provider]
    else:
        # Inactive providers appear only while they still have bookings to show.
        booked = {booking.provider_id for booking in bookings}
        providers = [p for p in all_providers(session, business.id) if p.active or p.id in booked]
    ids = [p.id for p in providers]
    hours: dict[tuple[int, int], list[tuple[time, time]]] = defaultdict(list)
    days_off: dict[tuple[int, date], str] = {}
    if ids:
        for provider_id, weekday, starts, ends in session.execute(
            select(
                WorkingHours.provider_id,
                WorkingHours.weekday,
                WorkingHours.starts,
                WorkingHours.ends,
            )
            .where(WorkingHours.provider_id.in_(ids))
            .order_by(WorkingHours.starts)
        ):
            hours[(provider_id, weekday)].append((starts, ends))
        for provider_id, day, note in session.execute(
            select(DayOff.provider_id, DayOff.day, DayOff.note).where(
                DayOff.provider_id.in_(ids), DayOff.day >= days[0], DayOff.day <= days[-1]
            )
        ):
            days_off[(provider_id, day)] = note
    return Loaded(providers, bookings, hours, days_off)


# Layout ----------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A grid area: first row and column (1-based, as CSS counts) and how many each spans."""

    row: int
    span: int
    column: int
    width: int = 1

    @property
    def classes(self) -> str:
        names = f"gr{self.row} gs{self.span} gc{self.column}"
        return names if self.width == 1 else f"{names} gw{self.width}"


@dataclass
class Lane:
    """One column of the grid: a provider on a day."""

    column: int
    day: date
    provider: Provider
    is_today: bool
    #: Working stretches as (start, end) minutes after local midnight.
    open: list[tuple[int, int]]
    day_off: str | None


@dataclass(frozen=True)
class Block:
    """A booking's box: its time, and its buffer as a tail below it."""

    booking: Entry
    day: date
    place: Place
    tail: Place | None
    state: str
    starts: str
    ends: str
    provider: Provider
    can_arrive: bool
    can_no_show: bool

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def faded(self) -> bool:
        return self.state in ("cancelled", "declined")


@dataclass(frozen=True)
class Cell:
    """A free piece of a provider's working time: a link to book there."""

    place: Place
    provider: Provider
    day: date
    time: str


@dataclass(frozen=True)
class Shade:
    place: Place
    kind: str  # "open" (working hours), or a lane's "closed", "off" or "inactive" background
    note: str = ""
    #: The lane is a day's first: the week view draws a stronger line there.
    day_start: bool = False


@dataclass(frozen=True)
class Head:
    place: Place
    day: date
    provider: Provider | None
    is_today: bool


@dataclass(frozen=True)
class HourMark:
    label: Place
    line: Place
    text: str


@dataclass
class Grid:
    view: str
    days: list[date]
    providers: list[Provider]
    first_minute: int
    last_minute: int
    header_rows: int
    lanes: list[Lane] = field(default_factory=list)
    heads: list[Head] = field(default_factory=list)
    lane_heads: list[Head] = field(default_factory=list)
    shades: list[Shade] = field(default_factory=list)
    hours: list[HourMark] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    now_line: Place | None = None

    @property
    def previous(self) -> date:
        """The first day of the view before this one."""
        return self.days[0] - timedelta(days=len(self.days))

    @property
    def next(self) -> date:
        return self.days[-1] + timedelta(days=1)

    @property
    def columns(self) -> int:
        return len(self.lanes)

    @property
    def time_rows(self) -> int:
        return (self.last_minute - self.first_minute) // ROW_MINUTES

    def agenda(self) -> list[tuple[date, list[Block]]]:
        """The blocks per day, by start: the list view."""
        by_day: dict[date, list[Block]] = {day: [] for day in self.days}
        for block in sorted(self.blocks, key=lambda b: (b.booking.start_at, b.booking.id)):
            by_day[block.day].append(block)
        return list(by_day.items())

    def css(self) -> str:
        """The rules of every utility class the pieces use, and the grid's columns."""
        places = [
            *(s.place for s in self.shades),
            *(h.place for h in self.heads),
            *(h.place for h in self.lane_heads),
            *(m.label for m in self.hours),
            *(m.line for m in self.hours),
            *(b.place for b in self.blocks),
            *(b.tail for b in self.blocks if b.tail is not None),
            *(c.place for c in self.cells),
            *([self.now_line] if self.now_line else []),
        ]
        rules = [
            "#cal-grid{grid-template-columns:var(--cal-hours) "
            f"repeat({self.columns},var(--cal-lane))}}"
        ]
        rules += [f".gr{n}{{grid-row-start:{n}}}" for n in sorted({p.row for p in places})]
        rules += [f".gs{n}{{grid-row-end:span {n}}}" for n in sorted({p.span for p in places})]
        rules += [f".gc{n}{{grid-column-start:{n}}}" for n in sorted({p.column for p in places})]
        widths = sorted({p.width for p in places} - {1})
        rules += [f".gw{n}{{grid-column-end:span {n}}}" for n in widths]
        return "".join(rules)


def _minute(business: Business, instant: datetime, day: date) -> int:
    """Wall-clock minutes after ``day``'s local midnight; a later day counts as its end."""
    local = business.local(instant)
    if local.date() > day:
        return DAY_MINUTES
    if local.date() < day:
        return 0
    return local.hour * 60 + local.minute


def _until(business: Business, start: datetime, end: datetime, day: date, first: int) -> int:
    """Where a stretch from ``start`` (at minute ``first``) to ``end`` ends on the wall clock."""
    last = _minute(business, end, day)
    if last <= first:
        # The repeated hour of an autumn change: the wall clock went back meanwhile.
        last = min(DAY_MINUTES, first + ceil((end - start).total_seconds() / 60))
    return last


def _state(booking: Entry) -> str:
    if booking.status == CONFIRMED and booking.no_show:
        return "no-show"
    if booking.status == CONFIRMED and booking.arrived_at is not None:
        return "arrived"
    return booking.status


def _minutes_of(stretch: tuple[time, time]) -> tuple[int, int]:
    starts, ends = stretch
    return starts.hour * 60 + starts.minute, ends.hour * 60 + ends.minute


def _subtract(
    stretches: list[tuple[int, int]], busy: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The parts of ``stretches`` outside every ``busy`` range (both sorted by start)."""
    free = []
    for lo, hi in stretches:
        for busy_lo, busy_hi in busy:
            if busy_hi <= lo or busy_lo >= hi:
                continue
            if busy_lo > lo:
                free.append((lo, busy_lo))
            lo = max(lo, busy_hi)
            if lo >= hi:
                break
        if lo < hi:
            free.append((lo, hi))
    return free


class _Layout:
    """Turns minutes into grid rows for one page."""

    def __init__(self, first: int, last: int, header_rows: int) -> None:
        self.first, self.last, self.header_rows = first, last, header_rows

    def rows(self, lo: int, hi: int, column: int, width: int = 1) -> Place:
        """The place of the minutes ``lo`` to ``hi``, clipped to the shown hours."""
        lo, hi = max(lo, self.first), min(hi, self.last)
        first_row = (lo - self.first) // ROW_MINUTES
        last_row = max(first_row + 1, ceil((hi - self.first) / ROW_MINUTES))
        return Place(self.header_rows + 1 + first_row, last_row - first_row, column, width)


def _hours_range(lanes: list[Lane], spans: list[tuple[int, int]]) -> tuple[int, int]:
    working = [stretch for lane in lanes if lane.day_off is None for stretch in lane.open]
    if working:
        first = min(lo for lo, _ in working)
        last = max(hi for _, hi in working)
    else:
        first, last = DEFAULT_HOURS
    for lo, hi in spans:
        first, last = min(first, lo), max(last, hi)
    # Whole hours, so the labels sit on the lines.
    return first // 60 * 60, min(DAY_MINUTES, ceil(last / 60) * 60)


def layout(business: Business, view: str, days: list[date], loaded: Loaded, now: datetime) -> Grid:
    """Place every booking, working stretch, free cell and label of ``days`` on the grid."""
    providers = loaded.providers
    today = business.local(now).date()
    lanes = []
    for day in days:
        for provider in providers:
            stretches = loaded.hours.get((provider.id, day.weekday()), [])
            lanes.append(
                Lane(
                    column=len(lanes) + 2,
                    day=day,
                    provider=provider,
                    is_today=day == today,
                    open=[_minutes_of(stretch) for stretch in stretches],
                    day_off=loaded.days_off.get((provider.id, day)),
                )
            )
    lane_of = {(lane.provider.id, lane.day): lane for lane in lanes}

    # Minutes of each booking on its lane: start, end, end of the buffer.
    placed = []
    for booking in loaded.bookings:
        day = business.local(booking.start_at).date()
        lane = lane_of.get((booking.provider_id, day))
        if lane is None:
            continue
        start = _minute(business, booking.start_at, day)
        end = _until(business, booking.start_at, booking.end_at, day, start)
        until = max(end, _until(business, booking.start_at, booking.occupied_until, day, start))
        placed.append((booking, lane, start, end, until))

    first, last = _hours_range(lanes, [(start, until) for _, _, start, _, until in placed])
    lanes_per_day = len(providers)
    header_rows = 2 if view != DAY and lanes_per_day > 1 else 1
    grid = Grid(view, days, providers, first, last, header_rows, lanes=lanes)
    at = _Layout(first, last, header_rows)
    body_rows = grid.time_rows

    for lane in lanes:
        base = Place(header_rows + 1, body_rows, lane.column)
        kind = "closed"
        if lane.day_off is not None:
            kind = "off"
        elif not lane.provider.active:
            kind = "inactive"
        day_start = view != DAY and (lane.column - 2) % max(lanes_per_day, 1) == 0
        grid.shades.append(Shade(base, kind, lane.day_off or "", day_start))
        if kind == "closed":
            grid.shades += [Shade(at.rows(lo, hi, lane.column), "open") for lo, hi in lane.open]
    _heads(grid, lanes, header_rows, lanes_per_day)
    for minute in range(first, last, 60):
        grid.hours.append(
            HourMark(
                label=at.rows(minute, minute + 60, 1),
                line=Place(at.rows(minute, minute + 60, 2).row, 1, 2, len(lanes)),
                text=f"{minute // 60:02d}:00",
            )
        )

    busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for booking, lane, start, end, until in placed:
        active = booking.status in ACTIVE_STATUSES
        if active:
            busy[lane.column].append((start, until))
        confirmed = booking.status == CONFIRMED and not booking.no_show
        waiting = confirmed and booking.arrived_at is None
        grid.blocks.append(
            Block(
                booking=booking,
                day=lane.day,
                place=at.rows(start, end, lane.column),
                # A cancelled booking's buffer holds no time: no tail.
                tail=at.rows(end, until, lane.column) if active and until > end else None,
                state=_state(booking),
                starts=f"{start // 60:02d}:{start % 60:02d}",
                ends=business.local(booking.end_at).strftime("%H:%M"),
                provider=lane.provider,
                can_arrive=waiting and lane.day <= today,
                can_no_show=waiting and booking.start_at <= now,
            )
        )

    now_minute = _minute(business, now, today)
    for lane in lanes:
        grid.cells += _free_cells(lane, sorted(busy[lane.column]), today, now_minute, at)
    if lanes and today in days and first <= now_minute < last:
        today_lanes = [lane for lane in lanes if lane.is_today]
        grid.now_line = at.rows(now_minute, now_minute + 1, today_lanes[0].column, len(today_lanes))
    return grid


def _heads(grid: Grid, lanes: list[Lane], header_rows: int, lanes_per_day: int) -> None:
    if grid.view == DAY:
        grid.heads = [
            Head(Place(1, 1, lane.column), lane.day, lane.provider, lane.is_today) for lane in lanes
        ]
        return
    for index in range(0, len(lanes), lanes_per_day):
        lane = lanes[index]
        grid.heads.append(
            Head(Place(1, 1, lane.column, lanes_per_day), lane.day, None, lane.is_today)
        )
    if header_rows == 2:
        grid.lane_heads = [
            Head(Place(2, 1, lane.column), lane.day, lane.provider, lane.is_today) for lane in lanes
        ]


def _free_cells(
    lane: Lane, busy: list[tuple[int, int]], today: date, now_minute: int, at: _Layout
) -> list[Cell]:
    """Links for the lane's free working time, split at every half hour; none in the past."""
    if lane.day_off is not None or not lane.provider.active or lane.day < today:
        return []
    earliest = ceil(now_minute / ROW_MINUTES) * ROW_MINUTES if lane.day == today else 0
    cells = []
    for lo, hi in _subtract(sorted(lane.open), busy):
        lo = max(lo, earliest, at.first)
        lo = ceil(lo / ROW_MINUTES) * ROW_MINUTES
        hi = min(hi, at.last) // ROW_MINUTES * ROW_MINUTES
        while lo < hi:
            piece_end = min(hi, (lo // CELL_MINUTES + 1) * CELL_MINUTES)
            cells.append(
                Cell(
                    place=at.rows(lo, piece_end, lane.column),
                    provider=lane.provider,
                    day=lane.day,
                    time=f"{lo // 60:02d}:{lo % 60:02d}",
                )
            )
            lo = piece_end
    return cells


def calendar_grid(
    session: Session,
    business: Business,
    view: str,
    day: date,
    provider: Provider | None,
    now: datetime,
) -> Grid:
    """The grid (or, for ``view=list``, the same week's pieces) of ``day`` or its week."""
    days = week_days(view, day)
    return layout(business, view, days, load(session, business, days, provider), now)
