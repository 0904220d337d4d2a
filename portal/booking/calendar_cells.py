"""The slot page's day calendar and time buttons, prepared in one call each.

The page shows about forty days and a day's free times; asking the template
to call a method or filter per day and per time showed in the page's profile.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date

from portal.booking.availability import Slot
from portal.web.formatting import calendar_names, iso_utc

#: (ISO day, weekday name, day of month, month name, has free times, is the chosen day)
DayCell = tuple[str, str, int, str, bool, bool]


def day_cells(days: Iterable[date], free_days: Collection[date], chosen: date) -> list[DayCell]:
    weekdays, months = calendar_names()
    return [
        (
            day.isoformat(),
            weekdays[day.weekday()],
            day.day,
            months[day.month - 1],
            day in free_days,
            day == chosen,
        )
        for day in days
    ]


def time_buttons(slots: Iterable[Slot], business) -> list[tuple[str, str]]:
    """(``start=`` value, local time shown) per free time."""
    zone = business.tz
    return [(iso_utc(slot.start), f"{slot.start.astimezone(zone):%H:%M}") for slot in slots]


def register(app) -> None:
    app.add_template_global(day_cells)
    app.add_template_global(time_buttons)
