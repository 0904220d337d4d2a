"""The owner's gift card forms."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, RadioField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional


class SwitchForm(FlaskForm):
    state = RadioField(
        "Gift cards",
        choices=[SelectChoice("on", "On"), SelectChoice("off", "Off")],
        validators=[InputRequired("Choose on or off.")],
    )


class IssueForm(FlaskForm):
    value = DecimalField(
        "Value",
        places=2,
        validators=[
            InputRequired("Enter the card's value, like 50.00."),
            NumberRange(Decimal("0.01"), Decimal("10000"), "A card is worth 0.01 to 10,000.00."),
        ],
    )
    expires_on = DateField(
        "Valid until (inclusive)",
        validators=[InputRequired("Enter the last day the card can be used, like 2027-12-31.")],
    )
    code = StringField(
        "Code (leave empty to generate one)",
        validators=[Optional(), Length(max=40, message="A code has at most 32 characters.")],
    )
    note = StringField("Note for staff", validators=[Length(max=200)])
