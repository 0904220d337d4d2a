"""The slot picker: which month it shows, that month's free days and one day's free times.

Only the month shown is computed (plus, when the client chose nothing yet and
the first month has no free day, the month after it), so the page costs the
same whether the business takes bookings six weeks or a year ahead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from portal.booking.availability import BookingWindow, Slot, calendar
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(month: date) -> date:
    return next_month(month) - timedelta(days=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month: date) -> date:
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class Picker:
    """One month of the calendar and the times of the chosen day."""

    window: BookingWindow
    #: The first day of the month shown.
    month: date
    free_days: set[date]
    #: The day whose times are shown: the one asked for, else the month's first free day.
    day: date | None
    slots: list[Slot]
    #: Whether the client chose ``day`` (a link then keeps it), or it was picked for them.
    day_chosen: bool

    @property
    def days(self) -> list[date]:
        """Every day of the month shown, the 1st first."""
        last = month_end(self.month)
        return [self.month + timedelta(days=n) for n in range((last - self.month).days + 1)]

    @property
    def previous_month(self) -> date | None:
        """The month before, while it still has bookable days."""
        before = previous_month(self.month)
        return before if month_end(before) >= self.window.first_day else None

    @property
    def next_month(self) -> date | None:
        """The month after, while it still has bookable days."""
        after = next_month(self.month)
        return after if after <= self.window.last_day else None


def pick(
    session: Session,
    business: Business,
    service: Service,
    providers: Iterable[Provider],
    now: datetime,
    *,
    day: date | None = None,
    month: date | None = None,
    exclude_booking_id: int | None = None,
    skip_start: datetime | None = None,
) -> Picker:
    """The picker for a checked ``day`` or ``month`` (both inside the window), or neither.

    With neither, the month of the window's first day is shown, or the month
    after it when the first has no free day left.
    """
    providers = list(providers)
    window = BookingWindow.for_business(business, now)
    shown = month_start(day) if day else month or month_start(window.first_day)

    def month_of(first: date, wanted: date | None) -> tuple[set[date], date, list[Slot]]:
        return calendar(
            session,
            business,
            service,
            providers,
            now,
            wanted,
            first_day=first,
            last_day=month_end(first),
            exclude_booking_id=exclude_booking_id,
            skip_start=skip_start,
        )

    free_days, shown_day, slots = month_of(shown, day)
    after = next_month(shown)
    if not free_days and day is None and month is None and after <= window.last_day:
        shown = after
        free_days, shown_day, slots = month_of(shown, None)
    if day is None and not free_days:
        shown_day = None
    return Picker(window, shown, free_days, shown_day, slots, day_chosen=day is not None)
