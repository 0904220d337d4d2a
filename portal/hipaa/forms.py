"""Forms of the HIPAA page: the switch (with re-authentication) and compliance settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Regexp

from portal.web.lazy_text import lazy_text as _l


class HipaaSwitchForm(FlaskForm):
    enable = HiddenField(
        validators=[AnyOf(["on", "off"], _l("Choose to switch HIPAA mode on or off."))]
    )
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(_l("Please enter your password.")), Length(max=1024)],
    )
    code = StringField(
        _l("Current code from your authenticator app"),
        validators=[
            DataRequired(_l("Please enter the 6-digit code from your app.")),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("The code is 6 digits, like 123456.")),
        ],
    )

    @property
    def enabling(self) -> bool:
        return self.enable.data == "on"

    @property
    def digits(self) -> str:
        """The code as typed, without the space people put in the middle."""
        return self.code.data.replace(" ", "")


class ComplianceForm(FlaskForm):
    support_access = BooleanField(_l("Let platform support open this account to help"))
    audit_retention_days = IntegerField(
        _l("Keep audit events for this many days"),
        validators=[
            InputRequired(_l("Please enter a number of days.")),
            NumberRange(365, 36500, _l("Keep audit events between 365 and 36500 days.")),
        ],
    )

    def values(self) -> dict:
        return {
            "support_access": self.support_access.data,
            "audit_retention_days": self.audit_retention_days.data,
        }
