"""Free slots: working hours, days off, existing bookings, notice and horizon.

The cost follows the window asked for, not the size of the bookings table:
bookings are read through the (provider_id, start_at) index with bounds on
both sides of the window.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from portal.booking.models import ACTIVE_STATUSES, Booking
from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, WorkingHours

#: No booking lasts longer than this (service duration and buffer are capped
#: well below it); it bounds the index scan for bookings overlapping a window.
MAX_OCCUPANCY = timedelta(hours=24)


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    provider_ids: tuple[int, ...]


@dataclass(frozen=True)
class BookingWindow:
    """The instants a client may book at all: after the notice, before the horizon."""

    earliest: datetime
    first_day: date
    last_day: date

    @classmethod
    def for_business(cls, business: Business, now: datetime) -> BookingWindow:
        earliest = now + timedelta(minutes=business.min_notice_minutes)
        first_day = business.local(earliest).date()
        last_day = business.local(now).date() + timedelta(days=business.max_days_ahead)
        return cls(earliest=earliest, first_day=first_day, last_day=last_day)

    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(max(count, 0))]


def _local_instant(business: Business, day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=business.tz)


# The queries of every slot page, built once: building a statement costs about
# as much as running it on SQLite (measured: ~55 of ~120 microseconds).
_BUSY = (
    select(Booking.provider_id, Booking.start_at, Booking.occupied_until)
    .where(
        Booking.provider_id.in_(bindparam("provider_ids", expanding=True)),
        Booking.start_at >= bindparam("earliest_start"),
        Booking.start_at < bindparam("end"),
        Booking.occupied_until > bindparam("start"),
        Booking.status.in_(ACTIVE_STATUSES),
    )
    .order_by(Booking.provider_id, Booking.start_at)
)
_BUSY_BUT_ONE = _BUSY.where(Booking.id != bindparam("exclude_booking_id"))
_HOURS = (
    select(WorkingHours.provider_id, WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends)
    .where(WorkingHours.provider_id.in_(bindparam("provider_ids", expanding=True)))
    .order_by(WorkingHours.starts)
)
_DAYS_OFF = select(DayOff.provider_id, DayOff.day).where(
    DayOff.provider_id.in_(bindparam("provider_ids", expanding=True)),
    DayOff.day >= bindparam("first_day"),
    DayOff.day <= bindparam("last_day"),
)


def _busy_intervals(
    session: Session,
    provider_ids: Sequence[int],
    start: datetime,
    end: datetime,
    exclude_booking_id: int | None = None,
) -> dict[int, list[tuple[datetime, datetime]]]:
    params = {
        "provider_ids": list(provider_ids),
        "earliest_start": start - MAX_OCCUPANCY,
        "end": end,
        "start": start,
    }
    if exclude_booking_id is None:
        rows = session.execute(_BUSY, params)
    else:
        rows = session.execute(_BUSY_BUT_ONE, {**params, "exclude_booking_id": exclude_booking_id})
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for provider_id, busy_start, busy_end in rows:
        busy[provider_id].append((busy_start, busy_end))
    return busy


class _BusyTimeline:
    """A provider's busy intervals, answering "is [lo, hi) free?" in O(log n).

    Instants are whole seconds since the epoch: the slot loop runs thousands
    of times per page, and integer arithmetic is several times faster there
    than datetime arithmetic.
    """

    def __init__(self, intervals: list[tuple[datetime, datetime]]) -> None:
        self.starts = [_seconds(start) for start, _ in intervals]
        self.latest_end: list[int] = []
        for _, end in intervals:
            end_s = _seconds(end)
            self.latest_end.append(max(end_s, self.latest_end[-1]) if self.latest_end else end_s)

    def overlaps(self, lo: int, hi: int) -> bool:
        # Among the intervals starting before ``hi``, one overlaps exactly when
        # the latest end among them lies after ``lo``.
        index = bisect_left(self.starts, hi) - 1
        return index >= 0 and self.latest_end[index] > lo


def _seconds(instant: datetime) -> int:
    return int(instant.timestamp())


@dataclass
class _Schedule:
    """What one availability computation reads from the database, loaded once."""

    provider_ids: list[int]
    window: BookingWindow
    first_day: date
    last_day: date
    #: (provider id, weekday) -> that weekday's working stretches
    hours: dict[tuple[int, int], list[tuple[time, time]]]
    days_off: set[tuple[int, date]]
    timelines: dict[int, _BusyTimeline]


def _load_schedule(
    session: Session,
    business: Business,
    providers: Iterable[Provider],
    first_day: date,
    last_day: date,
    now: datetime,
    *,
    include_bookings: bool,
    exclude_booking_id: int | None,
) -> _Schedule | None:
    providers = [p for p in providers if p.active]
    window = BookingWindow.for_business(business, now)
    first_day = max(first_day, window.first_day)
    last_day = min(last_day, window.last_day)
    if not providers or first_day > last_day:
        return None

    provider_ids = [p.id for p in providers]
    span_start = _local_instant(business, first_day, time.min)
    span_end = _local_instant(business, last_day + timedelta(days=1), time.min)
    # Plain tuples, not ORM rows: the scan reads them for every day and provider.
    hours: dict[tuple[int, int], list[tuple[time, time]]] = defaultdict(list)
    for provider_id, weekday, starts, ends in session.execute(
        _HOURS, {"provider_ids": provider_ids}
    ):
        hours[(provider_id, weekday)].append((starts, ends))
    days_off = {
        (provider_id, day)
        for provider_id, day in session.execute(
            _DAYS_OFF,
            {"provider_ids": provider_ids, "first_day": first_day, "last_day": last_day},
        )
    }
    busy = (
        _busy_intervals(session, provider_ids, span_start, span_end, exclude_booking_id)
        if include_bookings
        else {}
    )
    timelines = {pid: _BusyTimeline(busy.get(pid, [])) for pid in provider_ids}
    return _Schedule(provider_ids, window, first_day, last_day, hours, days_off, timelines)


def _scan(
    schedule: _Schedule,
    business: Business,
    service: Service,
    first_day: date,
    last_day: date,
    *,
    first_per_day: bool = False,
    skip_start: datetime | None = None,
) -> dict[date, list[Slot]]:
    """The free slots per day between ``first_day`` and ``last_day`` of a loaded schedule.

    A slot starting at ``skip_start`` is left out (a booking being moved: its own time).
    """
    first_day = max(first_day, schedule.first_day)
    last_day = min(last_day, schedule.last_day)
    duration = service.duration_minutes * 60
    occupancy = duration + service.buffer_minutes * 60
    step = business.slot_step_minutes * 60
    earliest = _seconds(schedule.window.earliest)
    skip = _seconds(skip_start) if skip_start is not None else None
    free: dict[tuple[date, int], list[int]] = defaultdict(list)
    found: set[date] = set()
    hours = schedule.hours
    no_hours: list[tuple[time, time]] = []
    day = first_day
    while day <= last_day:
        weekday = day.weekday()
        for provider_id in schedule.provider_ids:
            if (provider_id, day) in schedule.days_off or (first_per_day and day in found):
                continue
            timeline = schedule.timelines[provider_id]
            for starts, ends in hours.get((provider_id, weekday), no_hours):
                # Step in absolute (UTC) time so a DST change inside the
                # stretch neither repeats nor skips a slot.
                start = _seconds(_local_instant(business, day, starts))
                close = _seconds(_local_instant(business, day, ends))
                while start + duration <= close:
                    if (
                        start >= earliest
                        and start != skip
                        and not timeline.overlaps(start, start + occupancy)
                    ):
                        free[(day, start)].append(provider_id)
                        found.add(day)
                        if first_per_day:
                            break
                    start += step
        day += timedelta(days=1)

    slots: dict[date, list[Slot]] = defaultdict(list)
    for (slot_day, start), ids in sorted(free.items()):
        begins = datetime.fromtimestamp(start, UTC)
        slots[slot_day].append(
            Slot(start=begins, end=begins + timedelta(seconds=duration), provider_ids=tuple(ids))
        )
    return dict(slots)


def free_slots(
    session: Session,
    business: Business,
    service: Service,
    providers: Iterable[Provider],
    first_day: date,
    last_day: date,
    now: datetime,
    *,
    include_bookings: bool = True,
    exclude_booking_id: int | None = None,
    first_per_day: bool = False,
) -> dict[date, list[Slot]]:
    """The bookable slots of ``service`` per local day, from ``first_day`` to ``last_day``.

    Each slot lists the providers free for it. With ``include_bookings``
    false, existing bookings are ignored: the result is what the business
    offers at all, used to tell a slot that was just taken from one that
    never existed. ``exclude_booking_id`` leaves out one booking, so a
    booking being moved does not block its own time. ``first_per_day``
    stops at the first free slot of each day (enough for a calendar).
    """
    schedule = _load_schedule(
        session,
        business,
        providers,
        first_day,
        last_day,
        now,
        include_bookings=include_bookings,
        exclude_booking_id=exclude_booking_id,
    )
    if schedule is None:
        return {}
    return _scan(schedule, business, service, first_day, last_day, first_per_day=first_per_day)


def calendar(
    session: Session,
    business: Business,
    service: Service,
    providers: Iterable[Provider],
    now: datetime,
    day: date | None,
    *,
    first_day: date | None = None,
    last_day: date | None = None,
    exclude_booking_id: int | None = None,
    skip_start: datetime | None = None,
) -> tuple[set[date], date, list[Slot]]:
    """For the slot page, from one read of the database: the days from ``first_day`` to
    ``last_day`` (by default the whole booking window) that have a free slot, the day to
    show (``day``, else the first free one) and that day's free slots.

    The slot page passes the month it shows, so its cost does not grow with the
    booking window. ``exclude_booking_id`` and ``skip_start`` serve a booking being
    moved: it does not block itself, and its own time is not offered.
    """
    window = BookingWindow.for_business(business, now)
    first_day = max(first_day or window.first_day, window.first_day)
    last_day = min(last_day or window.last_day, window.last_day)
    span_first = min(first_day, day) if day else first_day
    span_last = max(last_day, day) if day else last_day
    schedule = _load_schedule(
        session,
        business,
        providers,
        span_first,
        span_last,
        now,
        include_bookings=True,
        exclude_booking_id=exclude_booking_id,
    )
    if schedule is None:
        return set(), day or first_day, []
    free_days = set(
        _scan(
            schedule,
            business,
            service,
            first_day,
            last_day,
            first_per_day=True,
            skip_start=skip_start,
        )
    )
    if day is None:
        day = min(free_days, default=first_day)
    slots = _scan(schedule, business, service, day, day, skip_start=skip_start).get(day, [])
    return free_days, day, slots


def slots_on(
    session: Session,
    business: Business,
    service: Service,
    providers: Iterable[Provider],
    day: date,
    now: datetime,
    *,
    include_bookings: bool = True,
    exclude_booking_id: int | None = None,
) -> list[Slot]:
    """The free slots of one local day."""
    return free_slots(
        session,
        business,
        service,
        providers,
        day,
        day,
        now,
        include_bookings=include_bookings,
        exclude_booking_id=exclude_booking_id,
    ).get(day, [])
