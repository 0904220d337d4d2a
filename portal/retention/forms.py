"""The owner's clean history form and the export date range."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.retention.models import DAYS, MONTHS
from portal.retention.service import period_problem
from portal.web.fields import SupportedDateField
from portal.web.lazy_text import lazy_text as _l


class CleanHistoryForm(FlaskForm):
    enabled = RadioField(
        _l("Clean history"),
        choices=[
            SelectChoice("off", _l("Off: keep all bookings")),
            SelectChoice("on", _l("On: delete old bookings")),
        ],
        validators=[InputRequired(_l("Choose on or off."))],
    )
    period_amount = IntegerField(
        _l("Delete bookings that ended more than"),
        validators=[InputRequired(_l("Enter a whole number, like 24."))],
    )
    period_unit = RadioField(
        _l("Unit"),
        choices=[SelectChoice(DAYS, _l("days ago")), SelectChoice(MONTHS, _l("months ago"))],
        validators=[InputRequired(_l("Choose days or months."))],
    )
    delete_orphan_clients = BooleanField(
        _l("Also delete clients left with no bookings and no account")
    )
    password = PasswordField(_l("Your password"), validators=[Length(max=1024)])
    confirm_slug = StringField(_l("Type the business's short name to confirm"), [Length(max=64)])

    def validate_period_amount(self, field) -> None:
        problem = period_problem(field.data, self.period_unit.data)
        if problem:
            raise ValidationError(problem)

    @classmethod
    def showing(cls, settings) -> CleanHistoryForm:
        """The form as the page first shows it: the business's current setting."""
        return cls(
            formdata=None,
            enabled="on" if settings.enabled else "off",
            period_amount=settings.period_amount,
            period_unit=settings.period_unit,
            delete_orphan_clients=settings.delete_orphan_clients,
        )

    def show_problems(self, problems: dict[str, str]) -> None:
        """Put what the confirmation lacked (password, typed name) under its fields."""
        for name, message in problems.items():
            self[name].errors = [message]

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

    first = SupportedDateField(_l("From"), validators=[Optional()], format="%Y-%m-%d")
    last = SupportedDateField(_l("Until (inclusive)"), validators=[Optional()], format="%Y-%m-%d")

    def validate_last(self, field) -> None:
        if field.data and self.first.data and field.data < self.first.data:
            raise ValidationError(_("The end of the range is before its start."))
