"""The client's details and consent form."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, TelField
from wtforms.validators import DataRequired, ValidationError

from portal.giftcards.forms import CodeLength
from portal.web.forms import email_validators, name_validators
from portal.web.lazy_text import lazy_text as _l

PHONE_PATTERN = re.compile(r"^\+?[0-9 ()./-]{6,30}$")


class BookingDetailsForm(FlaskForm):
    name = StringField(_l("Your name"), validators=name_validators())
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

    def __init__(
        self, *args, terms_required: bool, policy_required: bool, account_client=None, **kwargs
    ) -> None:
        """``account_client``: the client record of a signed-in account, or None for a guest."""
        super().__init__(*args, **kwargs)
        self.terms_required = terms_required
        self.policy_required = policy_required
        self.account_client = account_client
        #: A signed-in client books with their account's address, whatever the form says.
        self.fixed_email = account_client.email if account_client is not None else None
        if account_client is not None:
            if not self.is_submitted():
                self.name.data = account_client.name
                self.phone.data = account_client.phone
            self.email.data = self.fixed_email

    def validate_name(self, field) -> None:
        field.data = " ".join(field.data.split())
        if not field.data:
            raise ValidationError(_("Please enter your name."))

    def validate_phone(self, field) -> None:
        field.data = field.data.strip()
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
