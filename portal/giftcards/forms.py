"""The owner's gift card forms."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from portal.giftcards.models import REFUND_ALWAYS, REFUND_IN_WINDOW, REFUND_NEVER
from portal.giftcards.service import CODE_MAX_LENGTH, REASON_MAX, normalise_code
from portal.web.fields import MoneyField, SingleLine, SupportedDateField
from portal.web.forms import strip_blanks
from portal.web.lazy_text import lazy_text as _l


class CodeLength:
    """At most ``CODE_MAX_LENGTH`` letters and digits; spaces and dashes are not counted."""

    message = _l("A gift card code has at most %(num)d letters and digits.", num=CODE_MAX_LENGTH)

    def __call__(self, form, field) -> None:
        if len(normalise_code(field.data or "")) > CODE_MAX_LENGTH:
            raise ValidationError(str(self.message))


class FiniteDecimal:
    """Refuse NaN and infinity, which ``Decimal`` parses but no amount can be."""

    message = _l("Enter an amount in digits, like 50.00.")

    def __call__(self, form, field) -> None:
        if field.data is not None and not field.data.is_finite():
            field.errors[:] = []
            raise StopValidation(str(self.message))


class SwitchForm(FlaskForm):
    state = RadioField(
        _l("Gift cards"),
        choices=[SelectChoice("on", _l("On")), SelectChoice("off", _l("Off"))],
        validators=[InputRequired(_l("Choose on or off."))],
    )
    #: Sent by the confirmation page that names the cards still holding a balance.
    confirm = BooleanField(_l("I understand: switch gift cards off anyway"))

    @property
    def turning_on(self) -> bool:
        return self.state.data == "on"


class IssueForm(FlaskForm):
    value = MoneyField(
        _l("Value"),
        places=2,
        validators=[
            InputRequired(_l("Enter the card's value, like 50.00.")),
            FiniteDecimal(),
            NumberRange(
                Decimal("0.01"), Decimal("10000"), _l("A card is worth 0.01 to 10,000.00.")
            ),
        ],
    )
    expires_on = SupportedDateField(
        _l("Valid until (inclusive)"),
        validators=[InputRequired(_l("Enter the last day the card can be used, like 2027-12-31."))],
    )
    code = StringField(
        _l("Code (leave empty to generate one)"),
        validators=[Optional(), CodeLength()],
    )
    note = StringField(
        _l("Note for staff"), validators=[SingleLine(), Length(max=200)], filters=[strip_blanks]
    )

    @property
    def value_cents(self) -> int:
        return int(self.value.data * 100)


class VoidForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            InputRequired(_l("Say why the card is voided.")),
            Length(
                max=REASON_MAX,
                message=_l("A reason has at most %(max)d characters.", max=REASON_MAX),
            ),
        ],
    )


class RefundRuleForm(FlaskForm):
    refund_on_cancel = RadioField(
        _l("When a booking paid with a gift card is cancelled"),
        choices=[
            SelectChoice(REFUND_ALWAYS, _l("Always give the amount back to the card")),
            SelectChoice(
                REFUND_IN_WINDOW,
                _l("Give it back only if cancelled in time (before the cancellation deadline)"),
            ),
            SelectChoice(REFUND_NEVER, _l("Never give it back")),
        ],
        validators=[InputRequired(_l("Choose one of the rules."))],
    )
