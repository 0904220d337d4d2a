"""Forms of the owner's business set-up."""

from __future__ import annotations

import re
from datetime import date, time

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import (
    Form,
    FormField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, DateInput, ListWidget, NumberInput, TimeInput

from portal.catalog import service as catalog
from portal.catalog.models import Provider, Service
from portal.web.fields import SingleLine, in_supported_years
from portal.web.forms import (
    EMAIL_MAX_LENGTH,
    EMAIL_TOO_LONG,
    UNIT_MINUTES,
    in_minutes,
    split_minutes,
    strip_blanks,
    unit_field,
)
from portal.web.lazy_text import lazy_text as _l
from portal.web.owner_texts import other_language

PRICE_PATTERN = re.compile(r"(\d{1,7})(?:[.,](\d{1,2}))?\Z")
TIME_PATTERN = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\Z")
WHOLE_NUMBER_PATTERN = re.compile(r"[0-9]+\Z")
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


class ParsedField(StringField):
    """A text input whose value is parsed; when parsing fails, that is the only error."""

    #: Said when the input is blank; None lets a blank input through as None.
    required_message: str | None = None

    def __init__(self, label=None, validators=None, required_message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        if required_message is not None:
            self.required_message = required_message

    def process_formdata(self, valuelist):
        text = valuelist[0].strip() if valuelist else ""
        self.data = self.parse(text) if text else None

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()
        if self.data is None and self.required_message:
            raise StopValidation(self.required_message)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else self.show(self.data)

    def parse(self, text: str):
        raise NotImplementedError

    def show(self, value) -> str:
        return str(value)


class WholeNumberField(ParsedField):
    widget = NumberInput()

    def parse(self, text: str) -> int:
        if text.startswith("-") and WHOLE_NUMBER_PATTERN.match(text[1:]):
            raise ValueError(_("Enter zero or more, not a negative number."))
        if not WHOLE_NUMBER_PATTERN.match(text):
            raise ValueError(_("Enter a whole number, like 30."))
        if len(text) > 12:
            raise ValueError(_("That number is far too large."))
        return int(text)


class PriceField(ParsedField):
    """A price typed as 35.00 (or 35,00); its data is in cents."""

    def parse(self, text: str) -> int:
        if text.startswith("-"):
            raise ValueError(_("The price cannot be negative."))
        match = PRICE_PATTERN.match(text)
        if match is None:
            if re.fullmatch(r"\d+[.,]\d{3,}", text):
                raise ValueError(_("Use at most two decimals, like 35.50."))
            raise ValueError(_("Enter a price like 35.00."))
        whole, fraction = match.group(1), (match.group(2) or "").ljust(2, "0")
        return int(whole) * 100 + int(fraction)

    def show(self, value: int) -> str:
        return f"{value // 100}.{value % 100:02d}"


class ClockTimeField(ParsedField):
    """A wall-clock time typed as HH:MM."""

    widget = TimeInput()

    def parse(self, text: str) -> time:
        match = TIME_PATTERN.match(text)
        if match is None:
            raise ValueError(_("Use HH:MM between 00:00 and 23:59, like 09:30."))
        return time(int(match.group(1)), int(match.group(2)))

    def show(self, value: time) -> str:
        return value.strftime("%H:%M")


class DayField(ParsedField):
    widget = DateInput()

    def parse(self, text: str) -> date:
        try:
            if not DATE_PATTERN.match(text):
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(_("Enter a date like 2026-03-14.")) from None
        if not in_supported_years(day):
            raise ValueError(_("Use a date between the years 1900 and 2200."))
        return day

    def show(self, value: date) -> str:
        return value.isoformat()


class ChecklistField(SelectMultipleField):
    """Tick boxes for rows of the business, by id."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, label=None, validators=None, noun="services", **kwargs):
        super().__init__(
            label,
            validators,
            coerce=int,
            invalid_value_message=catalog.CHOOSE_FROM_LIST[noun],
            invalid_choice_message=catalog.CHOOSE_FROM_LIST[noun],
            **kwargs,
        )


def _in(limit: catalog.Limit) -> NumberRange:
    return NumberRange(limit.low, limit.high, limit.message)


def _check_length(number, unit, limit: catalog.Limit) -> None:
    """A number and its unit must together lie within ``limit`` (in minutes)."""
    if unit.data not in UNIT_MINUTES:
        return  # the unit's own error says so
    if not limit.low <= in_minutes(number.data, unit.data) <= limit.high:
        raise ValidationError(str(limit.message))


#: Offered first on the business page: the zones most businesses here are in.
COMMON_TIMEZONES = (
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Luxembourg",
    "Europe/Copenhagen",
    "Europe/Stockholm",
    "Europe/Oslo",
    "Europe/Helsinki",
    "Europe/Warsaw",
    "Europe/Prague",
    "Europe/Budapest",
    "Europe/Rome",
    "Europe/Madrid",
    "Europe/Lisbon",
    "Europe/Athens",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
)


def timezone_choices(current: str | None) -> dict:
    """The time-zone select: the business's zone and the common zones of its region first,
    then the other common ones, then every other IANA zone (each listed once)."""
    names = catalog.timezone_names()
    region = (current or "Europe/").split("/")[0] + "/"
    first = [current] if current in names else []
    first += [z for z in COMMON_TIMEZONES if z.startswith(region)]
    first += [z for z in COMMON_TIMEZONES if not z.startswith(region)]
    common = list(dict.fromkeys(z for z in first if z in names))
    rest = sorted(names - set(common))
    return {
        _("Common time zones"): [SelectChoice(z, _zone_label(z)) for z in common],
        _("All time zones"): [SelectChoice(z, _zone_label(z)) for z in rest],
    }


def _zone_label(name: str) -> str:
    return name.replace("_", " ")


#: The client reminders offered, as ``Business.reminder_hours`` stores them.
REMINDER_LABELS = {
    "": _l("No reminders"),
    "24": _l("24 hours before"),
    "2": _l("2 hours before"),
    "48": _l("48 hours before"),
    "24,2": _l("24 hours and 2 hours before"),
    "48,2": _l("48 hours and 2 hours before"),
    "48,24": _l("48 hours and 24 hours before"),
}


def _member_id(value):
    """A staff member's id from the form ("" is nobody); other text is left to be refused."""
    if value is None or value in ("", "None"):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else text


class BusinessForm(FlaskForm):
    name = StringField(
        _l("Business name"),
        filters=[strip_blanks],
        validators=[
            DataRequired(_l("Please enter the business name.")),
            SingleLine(),
            Length(max=catalog.NAME_MAX, message=catalog.NAME_TOO_LONG),
        ],
    )
    timezone = SelectField(
        _l("Time zone"),
        filters=[strip_blanks],
        validators=[
            DataRequired(_l("Please enter a timezone, like Europe/Berlin.")),
            Length(max=64, message=_l("Use an IANA name like Europe/Berlin.")),
        ],
        # The zone is checked by ``validate_timezone`` (the same check as before the select).
        validate_choice=False,
    )
    locale = SelectField(
        _l("Language of the booking pages"),
        choices=[SelectChoice(code, name) for code, name in catalog.LOCALES.items()],
        invalid_choice_message=catalog.CHOOSE_LOCALE,
    )
    #: The number of the notice; its unit is ``min_notice_unit`` (minutes when not sent).
    min_notice_minutes = WholeNumberField(
        _l("Minimum notice"),
        required_message=_l("Please enter the minimum notice in minutes (0 for none)."),
    )
    min_notice_unit = unit_field()
    max_days_ahead = WholeNumberField(
        _l("Bookings open this many days ahead"),
        validators=[_in(catalog.MAX_DAYS_AHEAD)],
        required_message=_l("Please enter how many days ahead clients may book."),
    )
    slot_step_minutes = WholeNumberField(
        _l("Slot step (minutes)"),
        validators=[_in(catalog.SLOT_STEP)],
        required_message=_l("Please enter the slot step in minutes."),
    )
    contact_email = StringField(
        _l("Reply-to address (optional)"),
        filters=[strip_blanks],
        validators=[
            Optional(),
            Length(max=EMAIL_MAX_LENGTH, message=EMAIL_TOO_LONG),
            Email(catalog.CONTACT_EMAIL_INVALID),
        ],
    )
    reminder_hours = SelectField(
        _l("Reminder e-mails to clients"),
        choices=[SelectChoice(value, label) for value, label in REMINDER_LABELS.items()],
        invalid_choice_message=catalog.CHOOSE_REMINDERS,
    )
    agenda_time = ClockTimeField(_l("Daily agenda e-mail to providers at (optional)"))

    @classmethod
    def for_business(cls, business) -> BusinessForm:
        """The form, filled with the business's settings unless a POST says otherwise."""
        minute = business.agenda_minute
        agenda = time(minute // 60, minute % 60) if minute is not None else None
        form = cls(obj=business, agenda_time=agenda)
        form.timezone.choices = timezone_choices(business.timezone)
        if not form.is_submitted():
            form.min_notice_minutes.data, form.min_notice_unit.data = split_minutes(
                business.min_notice_minutes, ("minutes", "hours", "days")
            )
        return form

    def validate_min_notice_minutes(self, field):
        _check_length(field, self.min_notice_unit, catalog.MIN_NOTICE)

    def validate_timezone(self, field):
        try:
            catalog.check_timezone(field.data)
        except catalog.CatalogError as error:
            raise ValidationError(str(error)) from None

    def validate_slot_step_minutes(self, field):
        limit = catalog.SLOT_STEP
        if limit.low <= field.data <= limit.high and field.data % limit.step:
            raise ValidationError(_("The slot step must be a multiple of 5 minutes."))

    def values(self) -> dict:
        """The settings as ``catalog.update_business`` takes them."""
        values = {
            field: getattr(self, field).data
            for field in catalog.BUSINESS_FIELDS
            if field != "agenda_minute"
        }
        agenda = self.agenda_time.data
        values["agenda_minute"] = agenda.hour * 60 + agenda.minute if agenda is not None else None
        values["min_notice_minutes"] = in_minutes(
            self.min_notice_minutes.data, self.min_notice_unit.data
        )
        return values


class ServiceForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[strip_blanks],
        validators=[
            DataRequired(_l("Please enter the service's name.")),
            SingleLine(),
            Length(max=catalog.NAME_MAX, message=catalog.NAME_TOO_LONG),
        ],
    )
    description = TextAreaField(
        _l("Description (optional)"),
        validators=[Length(max=catalog.DESCRIPTION_MAX, message=catalog.DESCRIPTION_TOO_LONG)],
    )
    #: Numbers whose units are ``duration_unit`` and ``buffer_unit`` (minutes when not sent).
    duration_minutes = WholeNumberField(
        _l("Duration"),
        required_message=_l("Please enter the duration in minutes."),
        default=30,
    )
    duration_unit = unit_field(("minutes", "hours"))
    price_cents = PriceField(
        _l("Price"), required_message=_l("Please enter a price, like 35.00 (0 if it is free).")
    )
    buffer_minutes = WholeNumberField(
        _l("Buffer after each appointment"),
        required_message=_l("Please enter the buffer in minutes (0 for none)."),
        default=0,
    )
    buffer_unit = unit_field(("minutes", "hours"))
    providers = ChecklistField(_l("Performed by"), noun="providers")
    #: The name and description in the business's other language; labelled by the page.
    translated_name = StringField(
        _l("Name"),
        filters=[strip_blanks],
        validators=[SingleLine(), Length(max=catalog.NAME_MAX, message=catalog.NAME_TOO_LONG)],
    )
    translated_description = TextAreaField(
        _l("Description (optional)"),
        validators=[Length(max=catalog.DESCRIPTION_MAX, message=catalog.DESCRIPTION_TOO_LONG)],
    )

    def validate_translated_name(self, field):
        if (self.translated_description.data or "").strip() and not (field.data or "").strip():
            raise ValidationError(str(catalog.TRANSLATED_NAME_MISSING))

    def validate_duration_minutes(self, field):
        _check_length(field, self.duration_unit, catalog.DURATION)

    def validate_buffer_minutes(self, field):
        _check_length(field, self.buffer_unit, catalog.BUFFER)

    def validate_price_cents(self, field):
        if field.data > catalog.MAX_PRICE_CENTS:
            raise ValidationError(_("The price must be at most 1000000.00."))

    @classmethod
    def for_service(cls, session: Session, business, service=None) -> ServiceForm:
        """The form, filled with ``service`` unless a POST says otherwise; the business's
        active providers to choose from."""
        data = None
        if service is not None:
            data = {field: getattr(service, field) for field in catalog.SERVICE_FIELDS}
            data["providers"] = [p.id for p in service.providers if p.active]
            language = other_language(business)
            for row in service.translations:
                if row.locale == language:
                    data["translated_name"] = row.name
                    data["translated_description"] = row.description
        form = cls(data=data)
        providers = catalog.active_rows(session, business.id, Provider)
        form.providers.choices = [SelectChoice(p.id, p.name) for p in providers]
        if not form.is_submitted():
            # A new service is done by everyone until the owner says otherwise.
            if service is None:
                form.providers.data = [p.id for p in providers]
            for number, unit in (
                (form.duration_minutes, form.duration_unit),
                (form.buffer_minutes, form.buffer_unit),
            ):
                number.data, unit.data = split_minutes(number.data or 0, ("minutes", "hours"))
        return form

    def values(self) -> dict:
        """The service's settings as ``catalog.create_service`` and ``update_service`` take them."""
        values = {field: getattr(self, field).data for field in catalog.SERVICE_FIELDS}
        values["duration_minutes"] = in_minutes(self.duration_minutes.data, self.duration_unit.data)
        values["buffer_minutes"] = in_minutes(self.buffer_minutes.data, self.buffer_unit.data)
        values["translation"] = (self.translated_name.data, self.translated_description.data)
        return values


class ProviderForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[strip_blanks],
        validators=[
            DataRequired(_l("Please enter the provider's name.")),
            SingleLine(),
            Length(max=catalog.NAME_MAX, message=catalog.NAME_TOO_LONG),
        ],
    )
    services = ChecklistField(_l("Services they perform"), noun="services")
    staff_user_id = SelectField(
        _l("This provider signs in as"),
        coerce=_member_id,
        invalid_choice_message=catalog.NO_MEMBER,
    )

    @classmethod
    def for_provider(cls, session: Session, business, provider=None) -> ProviderForm:
        """The form, filled with ``provider`` unless a POST says otherwise; the business's
        active services and staff members to choose from."""
        data = None
        if provider is not None:
            data = {
                "name": provider.name,
                "services": [s.id for s in provider.services if s.active],
                "staff_user_id": provider.staff_user_id,
            }
        form = cls(data=data)
        services = catalog.active_rows(session, business.id, Service)
        form.services.choices = [SelectChoice(s.id, s.name) for s in services]
        if provider is None and not form.is_submitted():
            # A new provider performs every service until the owner says otherwise.
            form.services.data = [s.id for s in services]
        members = catalog.linkable_members(session, business.id)
        linked = provider.staff_user_id if provider is not None else None
        form.staff_user_id.choices = [
            SelectChoice("", _("Nobody (no staff account)")),
            *(SelectChoice(m.id, _member_label(m)) for m in members),
            # A member since deactivated stays shown (and kept) until the owner changes it.
            *(
                [SelectChoice(linked, _("A deactivated staff member"))]
                if linked is not None and linked not in {m.id for m in members}
                else []
            ),
        ]
        return form


def _member_label(member) -> str:
    return f"{member.name} ({member.email})" if member.name else member.email


class DayHoursForm(Form):
    """Up to two stretches of work on one weekday; blank means not working."""

    start_1 = ClockTimeField(_l("From"))
    end_1 = ClockTimeField(_l("Until"))
    start_2 = ClockTimeField(_l("From"))
    end_2 = ClockTimeField(_l("Until"))

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        for starts, ends in ((self.start_1, self.end_1), (self.start_2, self.end_2)):
            if (starts.data is None) != (ends.data is None):
                missing = ends if ends.data is None else starts
                missing.errors.append(_("Enter both a start and an end, or leave both empty."))
                return False
            if starts.data is not None and not starts.data < ends.data:
                ends.errors.append(_("The end must be after the start."))
                return False
        try:
            catalog.check_day(self.stretches)
        except catalog.CatalogError:
            self.start_2.errors.append(_("The two stretches overlap."))
            return False
        return True

    @property
    def stretches(self) -> list[tuple[time, time]]:
        pairs = ((self.start_1.data, self.end_1.data), (self.start_2.data, self.end_2.data))
        return [(starts, ends) for starts, ends in pairs if starts is not None]


class WeeklyHoursForm(FlaskForm):
    monday = FormField(DayHoursForm, catalog.WEEKDAY_NAMES[0])
    tuesday = FormField(DayHoursForm, catalog.WEEKDAY_NAMES[1])
    wednesday = FormField(DayHoursForm, catalog.WEEKDAY_NAMES[2])
    thursday = FormField(DayHoursForm, catalog.WEEKDAY_NAMES[3])
    friday = FormField(DayHoursForm, catalog.WEEKDAY_NAMES[4])
    saturday = FormField(DayHoursForm, catalog.WEEKDAY_NAMES[5])
    sunday = FormField(DayHoursForm, catalog.WEEKDAY_NAMES[6])

    @property
    def days(self) -> list[FormField]:
        return [getattr(self, name.lower()) for name in catalog.WEEKDAYS]

    @property
    def hours(self) -> dict[int, list[tuple[time, time]]]:
        """Weekday (0 = Monday) -> stretches, as ``catalog.set_weekly_hours`` takes them."""
        return {weekday: day.form.stretches for weekday, day in enumerate(self.days)}

    @classmethod
    def for_provider(cls, provider, **kwargs) -> WeeklyHoursForm:
        """The form, filled with the provider's current hours unless a POST says otherwise."""
        data: dict[str, dict] = {name.lower(): {} for name in catalog.WEEKDAYS}
        counts = [0] * 7
        for row in sorted(provider.working_hours, key=lambda r: (r.weekday, r.starts)):
            counts[row.weekday] += 1
            day = data[catalog.WEEKDAYS[row.weekday].lower()]
            day[f"start_{counts[row.weekday]}"] = row.starts
            day[f"end_{counts[row.weekday]}"] = row.ends
        return cls(data=data, **kwargs)


class DayOffForm(FlaskForm):
    day = DayField(_l("Day"), required_message=_l("Please enter the day, like 2026-03-14."))
    note = StringField(
        _l("Note (optional)"),
        filters=[strip_blanks],
        validators=[Length(max=catalog.NOTE_MAX, message=catalog.NOTE_TOO_LONG)],
    )
