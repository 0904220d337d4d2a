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

from sqlalchemy import select
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


def _busy_intervals(
    session: Session,
    provider_ids: Sequence[int],
    start: datetime,
    end: datetime,
    exclude_booking_id: int | None = None,
) -> dict[int, list[tuple[datetime, datetime]]]:
    query = select(Booking.provider_id, Booking.start_at, Booking.occupied_until).where(
        Booking.provider_id.in_(provider_ids),
        Booking.start_at >= start - MAX_OCCUPANCY,
        Booking.start_at < end,
        Booking.occupied_until > start,
        Booking.status.in_(ACTIVE_STATUSES),
    )
    if exclude_booking_id is not None:
        query = query.where(Booking.id != exclude_booking_id)
    rows = session.execute(query.order_by(Booking.provider_id, Booking.start_at))
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
    providers = [p for p in providers if p.active]
    window = BookingWindow.for_business(business, now)
    first_day = max(first_day, window.first_day)
    last_day = min(last_day, window.last_day)
    if not providers or first_day > last_day:
        return {}

    provider_ids = [p.id for p in providers]
    span_start = _local_instant(business, first_day, time.min)
    span_end = _local_instant(business, last_day + timedelta(days=1), time.min)
    hours: dict[int, list[WorkingHours]] = defaultdict(list)
    for row in session.scalars(
        select(WorkingHours)
        .where(WorkingHours.provider_id.in_(provider_ids))
        .order_by(WorkingHours.starts)
    ):
        hours[row.provider_id].append(row)
    days_off = {
        (provider_id, day)
        for provider_id, day in session.execute(
            select(DayOff.provider_id, DayOff.day).where(
                DayOff.provider_id.in_(provider_ids),
                DayOff.day >= first_day,
                DayOff.day <= last_day,
            )
        )
    }
    busy = (
        _busy_intervals(session, provider_ids, span_start, span_end, exclude_booking_id)
        if include_bookings
        else {}
    )
    timelines = {pid: _BusyTimeline(busy.get(pid, [])) for pid in provider_ids}

    duration = service.duration_minutes * 60
    occupancy = duration + service.buffer_minutes * 60
    step = business.slot_step_minutes * 60
    earliest = _seconds(window.earliest)
    free: dict[tuple[date, int], list[int]] = defaultdict(list)
    found: set[date] = set()
    day = first_day
    while day <= last_day:
        for provider in providers:
            if (provider.id, day) in days_off or (first_per_day and day in found):
                continue
            timeline = timelines[provider.id]
            for stretch in hours[provider.id]:
                if stretch.weekday != day.weekday():
                    continue
                # Step in absolute (UTC) time so a DST change inside the
                # stretch neither repeats nor skips a slot.
                start = _seconds(_local_instant(business, day, stretch.starts))
                close = _seconds(_local_instant(business, day, stretch.ends))
                while start + duration <= close:
                    if start >= earliest and not timeline.overlaps(start, start + occupancy):
                        free[(day, start)].append(provider.id)
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


def days_with_free_time(
    session: Session,
    business: Business,
    service: Service,
    providers: Iterable[Provider],
    first_day: date,
    last_day: date,
    now: datetime,
) -> set[date]:
    """The local days that have at least one free slot (for the calendar)."""
    return set(
        free_slots(
            session, business, service, providers, first_day, last_day, now, first_per_day=True
        )
    )


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
