"""The owner's forms for the terms and the cancellation policy."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from portal.policies.models import CANCEL_ANY_TIME, CANCEL_NEVER, CANCEL_UNTIL
from portal.policies.service import (
    MAX_NOTICE_MINUTES,
    MAX_SUMMARY,
    MAX_TEXT,
    UNITS,
    PolicyDraft,
    split_notice,
)

WHOLE_NUMBER = re.compile(r"[0-9]{1,7}\Z")
TOO_LONG = f"This text is too long: at most {MAX_TEXT:,} characters."


def _text(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[Length(max=MAX_TEXT, message=TOO_LONG)])


def _mode(label: str, verb: str) -> RadioField:
    return RadioField(
        label,
        choices=[
            SelectChoice(CANCEL_NEVER, f"Not online: clients must contact you to {verb}"),
            SelectChoice(CANCEL_ANY_TIME, "Any time until the appointment starts"),
            SelectChoice(CANCEL_UNTIL, "Until a set time before the appointment"),
        ],
        default=CANCEL_UNTIL,
        invalid_choice_message="Choose one of the three options.",
    )


def _unit() -> SelectField:
    return SelectField(
        "Unit",
        choices=[SelectChoice(name, name) for name in UNITS],
        default="hours",
        invalid_choice_message="Choose minutes, hours or days.",
    )


class TermsForm(FlaskForm):
    terms_enabled = BooleanField("Clients must accept these terms to book")
    body = _text("Terms and conditions")

    def validate_body(self, field) -> None:
        if self.terms_enabled.data and not (field.data or "").strip():
            raise ValidationError(
                "Write the terms before switching them on: clients must be able to read "
                "what they accept."
            )


class PolicyForm(FlaskForm):
    policy_enabled = BooleanField("Clients must accept this cancellation policy to book")
    cancel_mode = _mode("Clients may cancel online", "cancel")
    cancel_notice = StringField("How long before", default="24")
    cancel_unit = _unit()
    reschedule_mode = _mode("Clients may change the time online", "change the time")
    reschedule_notice = StringField("How long before", default="24")
    reschedule_unit = _unit()
    summary = TextAreaField(
        "Summary",
        validators=[
            Length(
                max=MAX_SUMMARY,
                message=f"Keep the summary to {MAX_SUMMARY} characters at most; "
                "put the details in the texts below.",
            )
        ],
    )
    prepayment = _text("Prepayment")
    refunds = _text("Refunds")
    rebooking = _text("Rebooking")
    body = _text("Other conditions (optional)")

    @classmethod
    def for_policy(cls, business, policy) -> PolicyForm:
        """The form filled in with the current version, or the defaults without one."""
        data = {"policy_enabled": business.cancellation_policy_enabled}
        if policy is not None:
            for name in ("summary", "prepayment", "refunds", "rebooking", "body"):
                data[name] = getattr(policy, name)
            for prefix in ("cancel", "reschedule"):
                data[f"{prefix}_mode"] = getattr(policy, f"{prefix}_mode")
                minutes = getattr(policy, f"{prefix}_notice_minutes")
                if minutes:
                    data[f"{prefix}_notice"], data[f"{prefix}_unit"] = split_notice(minutes)
        return cls(data=data)

    def validate_summary(self, field) -> None:
        if self.policy_enabled.data and not (field.data or "").strip():
            raise ValidationError(
                "Write a one- or two-sentence summary: clients see it above the confirm "
                "button before they agree."
            )

    def validate_cancel_notice(self, field) -> None:
        self.cancel_minutes = self._notice(self.cancel_mode, field, self.cancel_unit, "cancel")

    def validate_reschedule_notice(self, field) -> None:
        self.reschedule_minutes = self._notice(
            self.reschedule_mode, field, self.reschedule_unit, "change the time"
        )

    @staticmethod
    def _notice(mode, field, unit, verb: str) -> int:
        """The notice in minutes; 0 when the rule needs none."""
        if mode.data != CANCEL_UNTIL or unit.data not in UNITS:
            return 0
        text = str(field.data or "").strip()
        if not text:
            raise ValidationError(
                f"Enter how long before the appointment clients may still {verb} online, "
                "like 24 hours."
            )
        if text.startswith("-") or not WHOLE_NUMBER.match(text):
            raise ValidationError("Enter a whole number of 1 or more, like 24.")
        number, size = int(text), UNITS[unit.data]
        if number < 1:
            raise ValidationError("Enter a whole number of 1 or more, like 24.")
        if number * size > MAX_NOTICE_MINUTES:
            most = MAX_NOTICE_MINUTES // size
            limit = f"{most} {unit.data}" + ("" if unit.data == "days" else " (365 days)")
            raise ValidationError(f"That is more than a year: enter at most {limit}.")
        return number * size

    def draft(self) -> PolicyDraft:
        """The validated input as a policy draft."""
        return PolicyDraft(
            summary=self.summary.data or "",
            cancel_mode=self.cancel_mode.data,
            cancel_notice_minutes=self.cancel_minutes,
            reschedule_mode=self.reschedule_mode.data,
            reschedule_notice_minutes=self.reschedule_minutes,
            body=self.body.data or "",
            prepayment=self.prepayment.data or "",
            refunds=self.refunds.data or "",
            rebooking=self.rebooking.data or "",
        )
