"""Template filters that show instants, days and prices to people, in their language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _

#: Times are on the 24-hour clock in both languages: our businesses are European.
TIME_PATTERN = "HH:mm"
#: A day in full; English keeps the day-month order its European readers expect.
DAY_PATTERNS = {"en": "EEEE, dd MMMM y", "de": "EEEE, d. MMMM y"}
SHORT_DAY_PATTERNS = {"en": "dd MMMM y", "de": "d. MMMM y"}


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


def local_time(instant: datetime, business) -> str:
    return business.local(instant).strftime("%H:%M")


def local_datetime(instant: datetime, business) -> str:
    moment = business.local(instant)
    return f"{long_date(moment.date())}, {moment:%H:%M}"


def long_date(day: date) -> str:
    language = _language()
    return format_date(day, DAY_PATTERNS.get(language, DAY_PATTERNS["en"]), locale=language)


def short_date(day: date) -> str:
    language = _language()
    pattern = SHORT_DAY_PATTERNS.get(language, SHORT_DAY_PATTERNS["en"])
    return format_date(day, pattern, locale=language)


def price(cents: int, currency: str = "EUR") -> str:
    return format_currency(Decimal(cents) / 100, currency, locale=_language())


def duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return _("%(hours)d h %(minutes)d min", hours=hours, minutes=rest)
    if hours:
        return _("%(hours)d h", hours=hours)
    return _("%(minutes)d min", minutes=rest)


@lru_cache(maxsize=8)
def _calendar_names(language: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    locale = Locale.parse(language)
    days = locale.days["stand-alone"]["abbreviated"]
    months = locale.months["stand-alone"]["abbreviated"]
    return tuple(days[n] for n in range(7)), tuple(months[n] for n in range(1, 13))


def calendar_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Short weekday names (Monday first) and month names for a calendar grid.

    Looked up once per page: a Babel call per day of a 40-day calendar showed
    in the slot page's profile.
    """
    return _calendar_names(_language())


def iso_utc(instant: datetime) -> str:
    """An instant for a URL: ``2026-03-02T09:30Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def register_filters(app: Flask) -> None:
    app.add_template_filter(iso_utc)
    app.add_template_filter(local_time)
    app.add_template_filter(local_datetime)
    app.add_template_filter(long_date)
    app.add_template_filter(short_date)
    app.add_template_filter(price)
    app.add_template_filter(duration)
    app.add_template_global(calendar_names)
