"""Shared input types: names, money and dates, checked once for every form and route.

A value that passes these checks can be stored, put in an e-mail header and
compared in SQL on every database: no control characters in a name, no NaN
in an amount, no year a database or ``datetime`` cannot hold.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from wtforms import DateField, DecimalField
from wtforms.validators import StopValidation

from portal.web.lazy_text import lazy_text as _l

#: Unicode categories that have no place in a one-line value: controls (CR, LF, TAB,
#: NUL, DEL, C1) and the line and paragraph separators.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
#: The years a date may have: every database, ``datetime`` and time zone handles them.
FIRST_YEAR, LAST_YEAR = 1900, 2200

CONTROL_IN_NAME = _l("Names cannot contain line breaks, tabs or other control characters.")
DATE_OUT_OF_RANGE = _l("Use a date between the years 1900 and 2200.")
NOT_AN_AMOUNT = _l("Enter an amount in digits, like 50.00.")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character that breaks a line or controls a terminal."""
    return any(unicodedata.category(character) in _LINE_BREAKING for character in text)


def one_line(text: str | None) -> str:
    """``text`` on one line: each run of blanks and control characters becomes one space.

    For values already stored (rows older than the checks) that go into an
    e-mail header or a file name, where a line break would end the header.
    """
    cleaned = "".join(
        " " if unicodedata.category(character) in _LINE_BREAKING else character
        for character in (text or "")
    )
    return " ".join(cleaned.split())


class SingleLine:
    """Refuse control characters (CR, LF, TAB, NUL ...) with a clear message."""

    def __init__(self, message=CONTROL_IN_NAME) -> None:
        self.message = message

    def __call__(self, form, field) -> None:
        if isinstance(field.data, str) and has_control_characters(field.data):
            field.errors[:] = []
            raise StopValidation(str(self.message))


# Money.


def finite_decimal(text: str) -> Decimal | None:
    """``text`` as a finite Decimal, or None (NaN, sNaN, Infinity, exponents past any amount)."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or abs(value.adjusted()) > 30:
        return None
    return value


class MoneyField(DecimalField):
    """An amount in digits: NaN, sNaN and Infinity are refused as what they are, not numbers."""

    def process_formdata(self, valuelist) -> None:
        if not valuelist:
            return
        self.raw_data = valuelist
        if not valuelist[0].strip():
            self.data = None
            return
        self.data = finite_decimal(valuelist[0])
        if self.data is None:
            raise ValueError(str(NOT_AN_AMOUNT))

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is not None and self.data.is_finite():
            return super()._value()
        return ""


# Dates.


def in_supported_years(day: date) -> bool:
    return FIRST_YEAR <= day.year <= LAST_YEAR


def parse_day(raw: str | None) -> date | None:
    """A ``YYYY-MM-DD`` date of the supported years, None when empty; ValueError otherwise."""
    if not raw:
        return None
    if len(raw) != 10 or not raw.isascii():
        raise ValueError(raw)
    day = date.fromisoformat(raw)
    if not in_supported_years(day):
        raise DateOutOfRange(raw)
    return day


class DateOutOfRange(ValueError):
    """A well-formed date outside the years 1900-2200."""

    def __str__(self) -> str:
        return _("Use a date between the years 1900 and 2200.")


class SupportedDateField(DateField):
    """A date typed as YYYY-MM-DD in the years 1900-2200 (later, SQL and ``datetime`` overflow)."""

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not in_supported_years(self.data):
            self.data = None
            raise ValueError(str(DATE_OUT_OF_RANGE))
