"""Staff forms for bookings: cancel, decide, book for a client, booking rules."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from portal.booking.availability import BookingWindow, Slot
from portal.booking.forms import PHONE_HIDDEN, PHONE_OPTIONAL, PHONE_PATTERN, PHONE_REQUIRED
from portal.booking.params import ANY_PROVIDER
from portal.booking.service import ClientDetails
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.clients.forms import REASON_MAX, REASON_TOO_LONG, ClientRulesFields
from portal.clients.models import Client
from portal.schedule.frontdesk import OVERRIDE_REASON_MAX
from portal.schedule.service import BOOKING_RULES
from portal.web.formatting import iso_utc, local_time, short_date
from portal.web.forms import (
    EMAIL_INVALID,
    EMAIL_MAX_LENGTH,
    EMAIL_TOO_LONG,
    name_validators,
    strip_blanks,
)
from portal.web.lazy_text import lazy_text as _l

#: The chosen time was free when the page was shown but is not now.
TIME_TAKEN = _l("That time was taken a moment ago. Please pick another.")
OVERRIDE_REASON_TOO_LONG = _l(
    "The reason may have at most %(num)d characters.", num=OVERRIDE_REASON_MAX
)
_WALL_TIME = re.compile(r"^[0-9]{1,2}:[0-9]{2}$")


class ActionForm(FlaskForm):
    """A button on a booking; ``return_to`` says which page to go back to."""

    return_to = HiddenField()


class CancelForm(ActionForm):
    reason = TextAreaField(
        _l("Reason (the client reads it in the cancellation e-mail)"),
        filters=[strip_blanks],
        validators=[
            DataRequired(_l("Please give a reason for the cancellation; the client will read it.")),
            Length(max=REASON_MAX, message=REASON_TOO_LONG),
        ],
    )


class DeclineForm(ActionForm):
    reason = TextAreaField(
        _l("Reason (optional, sent to the client)"),
        filters=[strip_blanks],
        validators=[Length(max=REASON_MAX, message=REASON_TOO_LONG)],
    )


class SlotSearchForm(FlaskForm):
    """Service, provider and day of a booking staff make; sent by GET, so no CSRF token."""

    class Meta:
        csrf = False

    service = SelectField(
        _l("Service"),
        coerce=int,
        invalid_value_message=_l("Please choose a service from the list."),
        invalid_choice_message=_l("Please choose a service from the list."),
    )
    provider = SelectField(
        _l("With"),
        invalid_choice_message=_l("Please choose a provider from the list."),
    )
    day = DateField(_l("Day"), invalid_value_message=_l("Please pick a day, like 2026-03-02."))

    def __init__(
        self,
        formdata,
        *,
        services: list[Service],
        providers: list[Provider],
        window: BookingWindow,
        first_day: date | None = None,
    ) -> None:
        super().__init__(formdata=formdata)
        self.window = window
        #: The earliest day offered: the window's, or today for who may book outside the rules.
        self.first_day = first_day or window.first_day
        self.services = {s.id: s for s in services}
        self.providers = {str(p.id): p for p in providers}
        self.service.choices = [(s.id, s.name) for s in services]
        self.provider.choices = [(ANY_PROVIDER, _("Anyone available"))] + [
            (str(p.id), p.name) for p in providers
        ]
        if not self.provider.data:
            self.provider.data = ANY_PROVIDER

    @property
    def chosen_service(self) -> Service:
        return self.services[self.service.data]

    @property
    def chosen_provider(self) -> Provider | None:
        return self.providers.get(self.provider.data)

    def validate_provider(self, field) -> None:
        provider = self.providers.get(field.data)
        service = self.services.get(self.service.data)
        if provider is not None and service is not None and service not in provider.services:
            raise ValidationError(
                _(
                    "%(provider)s does not offer %(service)s.",
                    provider=provider.name,
                    service=service.name,
                )
            )

    def validate_day(self, field) -> None:
        if field.data is None:
            return  # not a date: the field already says so
        first, last = self.first_day, self.window.last_day
        if not first <= field.data <= last:
            raise ValidationError(
                _(
                    "Bookings can be made from %(first)s to %(last)s. "
                    "Please pick a day in that range.",
                    first=short_date(first),
                    last=short_date(last),
                )
            )


def parse_wall_time(text: str) -> time | None:
    """A typed time of day, "HH:MM" (24-hour clock), or None."""
    if not _WALL_TIME.match(text):
        return None
    hours, minutes = (int(part) for part in text.split(":"))
    return time(hours, minutes) if hours < 24 and minutes < 60 else None


class TimeChoiceForm(FlaskForm):
    """A free time from the list, or (overriding the rules) a typed time with a reason."""

    start = RadioField(_l("Time"), validate_choice=False)
    other_time = StringField(
        _l("Another time, outside the opening hours or the minimum notice (HH:MM)"),
        filters=[strip_blanks],
    )
    override_reason = TextAreaField(
        _l("Reason for booking outside the rules (written to the audit log)"),
        filters=[strip_blanks],
        validators=[Length(max=OVERRIDE_REASON_MAX, message=OVERRIDE_REASON_TOO_LONG)],
    )

    @property
    def overriding(self) -> bool:
        return bool(self.other_time.data)

    @property
    def wall_time(self) -> time:
        return parse_wall_time(self.other_time.data)

    def validate_other_time(self, field) -> None:
        if field.data and parse_wall_time(field.data) is None:
            raise ValidationError(_("Please enter the time as hours and minutes, like 18:30."))

    def validate_override_reason(self, field) -> None:
        if self.other_time.data and not field.data:
            raise ValidationError(
                _("Please give a reason for booking outside the rules; it is audited.")
            )


class StaffBookingForm(TimeChoiceForm):
    """A free time and the client (picked, or new); staff book without consent checkboxes."""

    name = StringField(
        _l("Client's name"),
        filters=[strip_blanks],
        validators=name_validators(_l("Please enter the client's name.")),
    )
    email = EmailField(
        _l("Client's e-mail (optional)"),
        filters=[strip_blanks],
        validators=[
            Optional(),
            Length(max=EMAIL_MAX_LENGTH, message=EMAIL_TOO_LONG),
            Email(EMAIL_INVALID),
        ],
    )
    phone = TelField(_l("Client's phone (optional)"), filters=[strip_blanks])

    def __init__(
        self,
        *args,
        slots: list[Slot],
        business: Business,
        client: Client | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.slots = {iso_utc(slot.start): slot for slot in slots}
        self.start.choices = [
            (value, local_time(slot.start, business)) for value, slot in self.slots.items()
        ]
        self.client = client
        if client is not None:
            del self.name, self.email, self.phone

    def preselect(self, wall: str, business: Business) -> bool:
        """Tick the free time at local ``wall`` ("HH:MM"); False when there is none."""
        for value, slot in self.slots.items():
            if local_time(slot.start, business) == wall:
                self.start.data = value
                return True
        return False

    @property
    def chosen_start(self) -> datetime:
        return self.slots[self.start.data].start

    @property
    def details(self) -> ClientDetails:
        if self.client is not None:
            return ClientDetails(self.client.name, self.client.email or "", self.client.phone)
        return ClientDetails(self.name.data, self.email.data or "", self.phone.data or "")

    def validate_start(self, field) -> None:
        if self.other_time.data:
            return
        if not field.data:
            raise ValidationError(_("Please pick a time."))
        if field.data not in self.slots:
            raise ValidationError(_("That time is no longer free. Please pick another."))

    def validate_name(self, field) -> None:
        field.data = " ".join(field.data.split())

    def validate_phone(self, field) -> None:
        if not field.data:
            return
        digits = sum(ch.isdigit() for ch in field.data)
        if len(field.data) > 30 or not PHONE_PATTERN.match(field.data) or not 6 <= digits <= 15:
            raise ValidationError(
                _(
                    "Please enter a phone number of 6 to 15 digits, like +49 30 1234567, "
                    "or leave it empty."
                )
            )


class MoveForm(TimeChoiceForm):
    """A staff move's new time: checked under the write lock by the domain, not here."""

    def validate_start(self, field) -> None:
        if self.other_time.data:
            return
        if not field.data:
            raise ValidationError(_("Please pick a time."))
        try:
            start = datetime.fromisoformat(field.data) if len(field.data) <= 40 else None
        except ValueError:
            start = None
        if start is None or start.tzinfo is None:
            raise ValidationError(_("That time is not valid. Please pick a time from the list."))
        self.new_start = start.astimezone(UTC)


class BookingRulesForm(ClientRulesFields, FlaskForm):
    approve_bookings = BooleanField(
        _l("Approve bookings: a client's new booking waits as a request until staff approve it")
    )
    client_phone = RadioField(
        _l("Phone number"),
        choices=[
            SelectChoice(PHONE_REQUIRED, _l("Required: every client gives a phone number")),
            SelectChoice(PHONE_OPTIONAL, _l("Optional: clients may leave it empty")),
            SelectChoice(PHONE_HIDDEN, _l("Not asked: the booking form has no phone field")),
        ],
        validate_choice=False,
    )
    client_notes = BooleanField(
        _l('Offer a notes field: "Anything we should know?" (up to 1000 characters)')
    )
    staff_may_override = BooleanField(
        _l("Staff may book outside the rules (opening hours and minimum notice)")
    )

    def validate_client_phone(self, field) -> None:
        if field.data not in (PHONE_REQUIRED, PHONE_OPTIONAL, PHONE_HIDDEN):
            raise ValidationError(_("Please choose whether the phone number is asked for."))

    def values(self) -> dict:
        """The rules as ``schedule.save_booking_rules`` takes them."""
        return {name: getattr(self, name).data for name in BOOKING_RULES}
