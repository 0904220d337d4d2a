"""Forms of the HIPAA page: the switch (with re-authentication) and compliance settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Regexp


class HipaaSwitchForm(FlaskForm):
    enable = HiddenField(
        validators=[AnyOf(["on", "off"], "Choose to switch HIPAA mode on or off.")]
    )
    password = PasswordField(
        "Your password",
        validators=[DataRequired("Please enter your password."), Length(max=1024)],
    )
    code = StringField(
        "Current code from your authenticator app",
        validators=[
            DataRequired("Please enter the 6-digit code from your app."),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="The code is 6 digits, like 123456."),
        ],
    )


class ComplianceForm(FlaskForm):
    support_access = BooleanField("Let platform support open this account to help")
    audit_retention_days = IntegerField(
        "Keep audit events for this many days",
        validators=[
            InputRequired("Please enter a number of days."),
            NumberRange(365, 36500, "Keep audit events between 365 and 36500 days."),
        ],
    )
