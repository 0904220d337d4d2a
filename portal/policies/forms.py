"""The owner's forms for the terms and the cancellation policy."""

from __future__ import annotations

import re

from flask_babel import LazyString, format_number
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, ValidationError

from portal.policies.models import CANCEL_ANY_TIME, CANCEL_NEVER, CANCEL_UNTIL
from portal.policies.service import (
    CHOOSE_MODE,
    MAX_NOTICE_MINUTES,
    MAX_SUMMARY,
    MAX_TEXT,
    SENTENCE_TOO_LONG,
    TERMS_MISSING,
    TRANSLATED_TEXTS,
    UNITS,
    PolicyDraft,
    editable,
    translation_of,
)
from portal.policies.summary import split_notice
from portal.web.lazy_text import lazy_text as _l
from portal.web.owner_texts import other_language

WHOLE_NUMBER = re.compile(r"[0-9]{1,7}\Z")
TOO_LONG = _l(
    "This text is too long: at most %(num)s characters.",
    num=LazyString(format_number, MAX_TEXT),
)
#: What the unit choices read; the keys are what the form sends.
UNIT_LABELS = {"minutes": _l("minutes"), "hours": _l("hours"), "days": _l("days")}


def _text(label) -> TextAreaField:
    return TextAreaField(label, validators=[Length(max=MAX_TEXT, message=TOO_LONG)])


def _mode(label, not_online) -> RadioField:
    return RadioField(
        label,
        choices=[
            SelectChoice(CANCEL_NEVER, not_online),
            SelectChoice(CANCEL_ANY_TIME, _l("Any time until the appointment starts")),
            SelectChoice(CANCEL_UNTIL, _l("Until a set time before the appointment")),
        ],
        default=CANCEL_UNTIL,
        invalid_choice_message=CHOOSE_MODE,
    )


def _unit() -> SelectField:
    return SelectField(
        _l("Unit"),
        choices=[SelectChoice(name, UNIT_LABELS.get(name, name)) for name in UNITS],
        default="hours",
        invalid_choice_message=_l("Choose minutes, hours or days."),
    )


class _Editor(FlaskForm):
    #: The second submit button: shows the texts as clients will see them, saves nothing.
    preview = SubmitField(_l("Preview"))

    @property
    def previewing(self) -> bool:
        return bool(self.preview.data)


class TermsForm(_Editor):
    terms_enabled = BooleanField(_l("Clients must accept these terms to book"))
    body = _text(_l("Terms and conditions"))
    #: The terms in the business's other language (optional); labelled by the page.
    translated_body = _text(_l("Terms and conditions"))

    @classmethod
    def for_terms(cls, business, terms) -> TermsForm:
        """The form filled in with the switch and the current text in both languages."""
        row = translation_of(terms, other_language(business)) if terms else None
        return cls(
            data={
                "terms_enabled": business.terms_enabled,
                "body": editable(terms, "body") if terms else "",
                "translated_body": editable(row, "body") if row else "",
            }
        )

    def validate_body(self, field) -> None:
        if self.terms_enabled.data and not (field.data or "").strip():
            raise ValidationError(str(TERMS_MISSING))


class PolicyForm(_Editor):
    policy_enabled = BooleanField(_l("Clients must accept this cancellation policy to book"))
    cancel_mode = _mode(
        _l("Clients may cancel online"), _l("Not online: clients must contact you to cancel")
    )
    cancel_notice = StringField(_l("How long before"), default="24")
    cancel_unit = _unit()
    reschedule_mode = _mode(
        _l("Clients may change the time online"),
        _l("Not online: clients must contact you to change the time"),
    )
    reschedule_notice = StringField(_l("How long before"), default="24")
    reschedule_unit = _unit()
    summary = StringField(
        _l("Your own sentence (optional)"),
        validators=[Length(max=MAX_SUMMARY, message=SENTENCE_TOO_LONG)],
    )
    prepayment = _text(_l("Prepayment"))
    refunds = _text(_l("Refunds"))
    rebooking = _text(_l("Rebooking"))
    body = _text(_l("Other conditions (optional)"))
    #: The texts in the business's other language (optional); the page labels the group.
    translated_summary = StringField(
        _l("Your own sentence (optional)"),
        validators=[Length(max=MAX_SUMMARY, message=SENTENCE_TOO_LONG)],
    )
    translated_prepayment = _text(_l("Prepayment"))
    translated_refunds = _text(_l("Refunds"))
    translated_rebooking = _text(_l("Rebooking"))
    translated_body = _text(_l("Other conditions (optional)"))

    @classmethod
    def for_policy(cls, business, policy) -> PolicyForm:
        """The form filled in with the current version, or the defaults without one."""
        data = {"policy_enabled": business.cancellation_policy_enabled}
        if policy is not None:
            draft = PolicyDraft.of(policy, other_language(business))
            for name, text in zip(TRANSLATED_TEXTS, draft.translation, strict=True):
                data[f"translated_{name}"] = text
            for name in ("summary", "prepayment", "refunds", "rebooking", "body"):
                data[name] = getattr(draft, name)
            for prefix in ("cancel", "reschedule"):
                data[f"{prefix}_mode"] = getattr(policy, f"{prefix}_mode")
                minutes = getattr(policy, f"{prefix}_notice_minutes")
                if minutes:
                    data[f"{prefix}_notice"], data[f"{prefix}_unit"] = split_notice(minutes)
        return cls(data=data)

    def validate_cancel_notice(self, field) -> None:
        self.cancel_minutes = self._notice(
            self.cancel_mode,
            field,
            self.cancel_unit,
            _(
                "Enter how long before the appointment clients may still cancel online, "
                "like 24 hours."
            ),
        )

    def validate_reschedule_notice(self, field) -> None:
        self.reschedule_minutes = self._notice(
            self.reschedule_mode,
            field,
            self.reschedule_unit,
            _(
                "Enter how long before the appointment clients may still change the time "
                "online, like 24 hours."
            ),
        )

    @staticmethod
    def _notice(mode, field, unit, missing: str) -> int:
        """The notice in minutes; 0 when the rule needs none."""
        if mode.data != CANCEL_UNTIL or unit.data not in UNITS:
            return 0
        text = str(field.data or "").strip()
        if not text:
            raise ValidationError(missing)
        if text.startswith("-") or not WHOLE_NUMBER.match(text):
            raise ValidationError(_("Enter a whole number of 1 or more, like 24."))
        number, size = int(text), UNITS[unit.data]
        if number < 1:
            raise ValidationError(_("Enter a whole number of 1 or more, like 24."))
        if number * size > MAX_NOTICE_MINUTES:
            most = MAX_NOTICE_MINUTES // size
            if unit.data == "days":
                message = _("That is more than a year: enter at most %(num)d days.", num=most)
            elif unit.data == "hours":
                message = _(
                    "That is more than a year: enter at most %(num)d hours (365 days).", num=most
                )
            else:
                message = _(
                    "That is more than a year: enter at most %(num)d minutes (365 days).",
                    num=most,
                )
            raise ValidationError(message)
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
            translation=tuple(
                getattr(self, f"translated_{name}").data or "" for name in TRANSLATED_TEXTS
            ),
        )
