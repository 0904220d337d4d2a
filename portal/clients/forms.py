"""Staff forms about clients: search, block, and the owner's client rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    StopValidation,
    ValidationError,
)

from portal.accounts.passwords import verify_password
from portal.clients.notes import NOTES_MAX
from portal.clients.service import AUTO_BLOCK_MAX, BOOKING_LIMIT_MAX, MAX_QUERY_LENGTH
from portal.web.forms import strip_blanks
from portal.web.lazy_text import lazy_text as _l

REASON_MAX = 500
#: Also what staff read when cancelling or declining a booking (``portal.schedule``).
REASON_TOO_LONG = _l("The reason may have at most %(num)d characters.", num=REASON_MAX)
#: Also what the clean history form says (``portal.retention``).
WRONG_PASSWORD = _l("Your password is not correct.")


class SearchForm(FlaskForm):
    """The client list's search box; sent by GET, so no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Search by name, e-mail or phone"),
        filters=[strip_blanks],
        validators=[
            Length(
                max=MAX_QUERY_LENGTH,
                message=_l("Search for at most %(num)d characters.", num=MAX_QUERY_LENGTH),
            )
        ],
    )


class BlockForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (staff see it; the client is only asked to contact you)"),
        filters=[strip_blanks],
        validators=[
            DataRequired(_l("Please say why the client is blocked, for your colleagues.")),
            Length(max=REASON_MAX, message=REASON_TOO_LONG),
        ],
    )


class NotesForm(FlaskForm):
    """Staff's internal note on a booking or a client."""

    notes = TextAreaField(
        _l("Internal note (staff only: never shown to the client, never e-mailed)"),
        filters=[strip_blanks],  # a note not sent is an empty one, not None
        validators=[
            Length(
                max=NOTES_MAX,
                message=_l("The note may have at most %(num)d characters.", num=NOTES_MAX),
            )
        ],
    )


class EraseClientForm(FlaskForm):
    """The owner confirms an erasure with their password (``staff``: who is signed in)."""

    password = PasswordField(
        _l("Your password"), validators=[InputRequired(_l("Enter your password to confirm."))]
    )

    def __init__(self, *args, staff, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.staff = staff

    def validate_password(self, field) -> None:
        if not verify_password(self.staff.password_hash, field.data):
            raise ValidationError(WRONG_PASSWORD)


class CountField(IntegerField):
    """A whole number from 0 to ``high``; anything else gets ``message`` and no other error.

    A form without the field (a page from before it existed) leaves the
    setting as it is.
    """

    def __init__(self, label, *, message: str, high: int, **kwargs) -> None:
        super().__init__(label, [NumberRange(0, high, message)], **kwargs)
        self.message = message

    def process_formdata(self, valuelist) -> None:
        if not valuelist:
            return
        text = valuelist[0].strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 6:
            self.data = None
            raise ValueError(self.message)
        self.data = int(text)

    def pre_validate(self, form) -> None:
        if self.process_errors or not self.raw_data:
            raise StopValidation()


class ClientRulesFields:
    """The owner's client rules; the Booking rules form includes these fields."""

    max_future_bookings_per_client = CountField(
        _l("Most upcoming bookings one client e-mail may make online (0: no limit)"),
        message=_l("Enter a number from 1 to %(num)d, or 0 for no limit.", num=BOOKING_LIMIT_MAX),
        high=BOOKING_LIMIT_MAX,
    )
    max_future_bookings_per_address = CountField(
        _l("Most upcoming bookings that may be made online from one address (0: no limit)"),
        message=_l("Enter a number from 1 to %(num)d, or 0 for no limit.", num=BOOKING_LIMIT_MAX),
        high=BOOKING_LIMIT_MAX,
    )
    auto_block_after = CountField(
        _l(
            "Block a client automatically after this many late cancellation attempts or "
            "no-shows (0: never)"
        ),
        message=_l(
            "Enter a number from 1 to %(num)d, or 0 to never block automatically.",
            num=AUTO_BLOCK_MAX,
        ),
        high=AUTO_BLOCK_MAX,
    )
