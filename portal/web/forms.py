"""Forms and field validators shared across features."""

import unicodedata

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField
from wtforms.validators import DataRequired, Email, Length

from portal.web.fields import SingleLine
from portal.web.lazy_text import lazy_text as _l

EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 200

EMAIL_TOO_LONG = _l("That e-mail address is too long.")
EMAIL_INVALID = _l("Please enter a valid e-mail address, like name@example.com.")
NAME_TOO_LONG = _l("The name may have at most 200 characters.")
EMAIL_MISSING = _l("Please enter your e-mail address.")
NAME_MISSING = _l("Please enter your name.")


class EmptyForm(FlaskForm):
    """A state-changing button: no fields, but CSRF-protected."""


def strip_blanks(value: str | None) -> str:
    """A form filter: text without surrounding blanks, in Unicode NFC; a field not sent is empty."""
    return unicodedata.normalize("NFC", (value or "").strip())


def email_validators(missing=EMAIL_MISSING) -> list:
    """An e-mail address is required (``missing`` says so), at most 254 characters, well-formed."""
    return [
        DataRequired(missing),
        Length(max=EMAIL_MAX_LENGTH, message=EMAIL_TOO_LONG),
        Email(EMAIL_INVALID),
    ]


def name_validators(missing=NAME_MISSING) -> list:
    """A person's name is required (``missing`` says so), one line, at most 200 characters."""
    return [
        DataRequired(missing),
        SingleLine(),
        Length(max=NAME_MAX_LENGTH, message=NAME_TOO_LONG),
    ]


def form_status(form: FlaskForm) -> int:
    """200 for a form shown fresh, 422 for one sent back with errors."""
    return 422 if form.is_submitted() else 200


#: A length of time typed as a number and a unit: what each unit is in minutes.
UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 24 * 60}
#: What the unit choices read (the same words as the cancellation policy's).
UNIT_LABELS = {"minutes": _l("minutes"), "hours": _l("hours"), "days": _l("days")}
CHOOSE_UNIT = _l("Choose one of the units offered.")


def unit_field(units: tuple[str, ...] = ("minutes", "hours", "days")) -> SelectField:
    """The unit beside a number; a form that does not send it means minutes."""
    return SelectField(
        _l("Unit"),
        choices=[SelectChoice(name, UNIT_LABELS[name]) for name in units],
        default="minutes",
        invalid_choice_message=CHOOSE_UNIT,
    )


def in_minutes(number: int | None, unit: str | None) -> int | None:
    """``number`` of ``unit`` in minutes (None when either is missing or unknown)."""
    if number is None or unit not in UNIT_MINUTES:
        return None
    return number * UNIT_MINUTES[unit]


def split_minutes(minutes: int, units: tuple[str, ...]) -> tuple[int, str]:
    """Minutes as the largest of ``units`` that holds them whole: 120 is 2 hours, 90 is 90 minutes."""
    for unit in sorted(units, key=UNIT_MINUTES.__getitem__, reverse=True):
        size = UNIT_MINUTES[unit]
        if minutes and minutes % size == 0:
            return minutes // size, unit
    return minutes, "minutes"
