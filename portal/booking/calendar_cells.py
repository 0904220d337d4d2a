"""The slot page's month grid and time buttons, prepared in one call each.

The page shows a month of days and a day's free times; asking the template
to call a method or filter per day and per time showed in the page's profile.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date

from babel.dates import format_date
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.booking.availability import Slot
from portal.web.formatting import calendar_names, iso_utc, price

#: (ISO day, weekday name, day of month, month name, has free times, is the chosen day)
DayCell = tuple[str, str, int, str, bool, bool]


def day_cells(
    days: Iterable[date], free_days: Collection[date], chosen: date | None
) -> list[DayCell]:
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


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


def month_title(month: date) -> str:
    """A calendar's caption: "March 2026", "März 2026"."""
    return format_date(month, "LLLL y", locale=_language())


def month_param(month: date) -> str:
    """A month for a URL: ``2026-03``."""
    return f"{month:%Y-%m}"


def service_price(cents: int, currency: str = "EUR") -> str:
    """A service's price to show a client: "Free" rather than "0,00 €"."""
    if cents == 0:
        return _("Free")
    return price(cents, currency)


def register(app) -> None:
    app.add_template_global(day_cells)
    app.add_template_global(time_buttons)
    app.add_template_global(month_title)
    app.add_template_global(month_param)
    app.add_template_filter(service_price)
