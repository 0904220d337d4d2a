"""The client's details and consent form, and the cancel step's form."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from portal.booking.service import CANCEL_REASON_MAX
from portal.giftcards.forms import CodeLength
from portal.web.forms import email_validators, name_validators, strip_blanks
from portal.web.lazy_text import lazy_text as _l

PHONE_PATTERN = re.compile(r"^\+?[0-9 ()./-]{6,30}$")
#: ``businesses.client_phone``: what the booking form does with the phone field.
PHONE_REQUIRED = "required"
PHONE_OPTIONAL = "optional"
PHONE_HIDDEN = "hidden"
PHONE_MODES = (PHONE_REQUIRED, PHONE_OPTIONAL, PHONE_HIDDEN)
#: ``bookings.client_notes`` takes any length; the form keeps a note short enough to read.
NOTES_MAX = 1000


class BookingDetailsForm(FlaskForm):
    name = StringField(_l("Your name"), validators=name_validators(), filters=[strip_blanks])
    email = EmailField(_l("E-mail"), validators=email_validators())
    phone = TelField(
        _l("Phone"),
        validators=[DataRequired(_l("Please enter a phone number so we can reach you."))],
    )
    accept_terms = BooleanField(_l("I accept the terms and conditions"))
    accept_policy = BooleanField(_l("I have read and accept the cancellation policy"))
    gift_card_code = StringField(
        _l("Gift card code (optional)"),
        validators=[CodeLength()],
    )
    notes = TextAreaField(
        _l("Anything we should know? (optional)"),
        filters=[strip_blanks],
        validators=[
            Length(max=NOTES_MAX, message=_l("Please keep your note to 1000 characters or fewer."))
        ],
    )
    #: Sent back when the form showed the passed-deadline warning. It alone proves
    #: nothing: the server works the deadlines out again when the form is posted.
    deadline_notice = HiddenField()

    def __init__(
        self,
        *args,
        terms_required: bool,
        policy_required: bool,
        account_client=None,
        phone: str = PHONE_REQUIRED,
        notes: bool = False,
        **kwargs,
    ) -> None:
        """``account_client``: the client record of a signed-in account, or None for a guest.

        ``phone`` and ``notes`` are the business's choices (``client_phone``,
        ``client_notes``): a hidden phone field and notes that are off are not fields at all.
        """
        super().__init__(*args, **kwargs)
        self.terms_required = terms_required
        self.policy_required = policy_required
        self.account_client = account_client
        self.phone_mode = phone if phone in PHONE_MODES else PHONE_REQUIRED
        if self.phone_mode == PHONE_HIDDEN:
            del self.phone
        elif self.phone_mode == PHONE_OPTIONAL:
            self.phone.label.text = _("Phone (optional)")
            self.phone.validators = []
            self.phone.flags.required = False
        if not notes:
            del self.notes
        #: A signed-in client books with their account's address, whatever the form says.
        self.fixed_email = account_client.email if account_client is not None else None
        if account_client is not None:
            if not self.is_submitted():
                self.name.data = account_client.name
                if "phone" in self:
                    self.phone.data = account_client.phone
            self.email.data = self.fixed_email

    @property
    def phone_number(self) -> str:
        """The phone number given, or "" where the field is hidden or left empty."""
        return self.phone.data if "phone" in self else ""

    @property
    def notes_text(self) -> str:
        return self.notes.data if "notes" in self else ""

    def validate_name(self, field) -> None:
        field.data = " ".join(field.data.split())
        if not field.data:
            raise ValidationError(_("Please enter your name."))

    def validate_phone(self, field) -> None:
        field.data = (field.data or "").strip()
        if not field.data and self.phone_mode == PHONE_OPTIONAL:
            return
        digits = sum(ch.isdigit() for ch in field.data)
        if not PHONE_PATTERN.match(field.data) or not 6 <= digits <= 15:
            raise ValidationError(
                _("Please enter a phone number of 6 to 15 digits, like +49 30 1234567.")
            )

    def validate_accept_terms(self, field) -> None:
        if self.terms_required and not field.data:
            raise ValidationError(_("Please accept the terms and conditions to book."))

    def validate_accept_policy(self, field) -> None:
        if self.policy_required and not field.data:
            raise ValidationError(_("Please accept the cancellation policy to book."))


class CancelForm(FlaskForm):
    """The cancel step: an optional reason, read by staff."""

    reason = TextAreaField(
        _l("Reason (optional)"),
        filters=[strip_blanks],
        validators=[
            Length(
                max=CANCEL_REASON_MAX,
                message=_l("Please keep the reason to 500 characters or fewer."),
            )
        ],
    )
