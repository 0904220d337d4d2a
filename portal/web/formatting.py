"""Template filters that show instants, days and prices to people."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF "}


def local_time(instant: datetime, business) -> str:
    return business.local(instant).strftime("%H:%M")


def local_datetime(instant: datetime, business) -> str:
    return business.local(instant).strftime("%A, %d %B %Y, %H:%M")


def long_date(day: date) -> str:
    return day.strftime("%A, %d %B %Y")


def price(cents: int, currency: str = "EUR") -> str:
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    return f"{symbol}{cents // 100}.{cents % 100:02d}"


def duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def iso_utc(instant: datetime) -> str:
    """An instant for a URL: ``2026-03-02T09:30Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def register_filters(app: Flask) -> None:
    app.add_template_filter(iso_utc)
    app.add_template_filter(local_time)
    app.add_template_filter(local_datetime)
    app.add_template_filter(long_date)
    app.add_template_filter(price)
    app.add_template_filter(duration)
