"""The owner's clean history form and the export date range."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.retention.models import DAYS, MONTHS
from portal.retention.service import period_problem


class CleanHistoryForm(FlaskForm):
    enabled = RadioField(
        "Clean history",
        choices=[
            SelectChoice("off", "Off: keep all bookings"),
            SelectChoice("on", "On: delete old bookings"),
        ],
        validators=[InputRequired("Choose on or off.")],
    )
    period_amount = IntegerField(
        "Delete bookings that ended more than",
        validators=[InputRequired("Enter a whole number, like 24.")],
    )
    period_unit = RadioField(
        "Unit",
        choices=[SelectChoice(DAYS, "days ago"), SelectChoice(MONTHS, "months ago")],
        validators=[InputRequired("Choose days or months.")],
    )
    delete_orphan_clients = BooleanField("Also delete clients left with no bookings and no account")
    password = PasswordField("Your password", validators=[Length(max=1024)])
    confirm_slug = StringField("Type the business's short name to confirm", [Length(max=64)])

    def validate_period_amount(self, field) -> None:
        problem = period_problem(field.data, self.period_unit.data)
        if problem:
            raise ValidationError(problem)

    def values(self) -> dict:
        return {
            "enabled": self.enabled.data == "on",
            "period_amount": self.period_amount.data,
            "period_unit": self.period_unit.data,
            "delete_orphan_clients": bool(self.delete_orphan_clients.data),
        }


class ExportForm(FlaskForm):
    """The date range of a download (a GET form: no CSRF, nothing changes)."""

    class Meta:
        csrf = False

    first = DateField("From", validators=[Optional()], format="%Y-%m-%d")
    last = DateField("Until (inclusive)", validators=[Optional()], format="%Y-%m-%d")

    def validate_last(self, field) -> None:
        if field.data and self.first.data and field.data < self.first.data:
            raise ValidationError("The end of the range is before its start.")


class EraseClientForm(FlaskForm):
    password = PasswordField(
        "Your password", validators=[InputRequired("Enter your password to confirm.")]
    )
