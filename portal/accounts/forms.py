"""Sign-in, password and two-factor forms."""

from __future__ import annotations

from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    ValidationError,
)

from portal.accounts.models import PASSKEYS_FOR_ALL, PASSKEYS_FOR_OWNERS, PASSKEYS_OPTIONAL
from portal.accounts.password_rules import MAX_LENGTH
from portal.accounts.service import AccountError, PasswordRejected, SignInFailed
from portal.web.forms import (
    email_validators,
    in_minutes,
    name_validators,
    split_minutes,
    strip_blanks,
    unit_field,
)
from portal.web.lazy_text import lazy_text as _l

SIGN_IN_FAILED = _l(
    "Sign-in failed: the e-mail address or password is wrong, or the account is locked "
    "after too many attempts. Try again later or reset your password."
)
#: The staff sign-in serves every business, whatever its lock mode, and must not tell
#: which account exists: one message that names both ways a lock ends and no reset.
STAFF_SIGN_IN_FAILED = _l(
    "Sign-in failed: the e-mail address or password is wrong, or the account is locked "
    "after too many attempts. The e-mail sent at the lock says how it ends: by itself "
    "after a while, or only when the business owner unlocks it on the Security page "
    "(a new password does not unlock it)."
)
CODE_FAILED = _l(
    "That code was not accepted. Type the current code from your app, or a recovery code."
)


def new_password_fields():
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Please choose a password.")),
            Length(max=MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(_l("Please repeat the password.")),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )
    return password, confirm


def email_field():
    return EmailField(_l("E-mail"), validators=email_validators(), filters=[strip_blanks])


class AccountForm(FlaskForm):
    """A form whose valid input goes to one account action; its refusals become field errors.

    As cookiecutter-flask's ``LoginForm.validate`` sets ``form.user``, ``submit_to``
    keeps what the action returned in ``result``.
    """

    #: The field that shows a refusal (an AccountError without a field of its own).
    error_field = "password"
    #: What a failed sign-in step says; never which part was wrong.
    sign_in_failed = SIGN_IN_FAILED

    def submit_to(self, action: Callable[[], object]) -> bool:
        """Validate a submitted form, then run ``action()``; False, with the errors, if refused."""
        self.result = None
        if not self.validate_on_submit():
            return False
        try:
            self.result = action()
        except PasswordRejected as rejected:
            self.password.errors.extend(rejected.problems)
        except AccountError as refusal:
            self[refusal.field or self.error_field].errors.append(str(refusal))
        except SignInFailed as failure:
            self[self.error_field].errors.append(failure.message or self.sign_in_failed)
        else:
            return True
        return False


class SignInForm(AccountForm):
    email = email_field()
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Please enter your password.")), Length(max=4096)],
    )


class CodeForm(AccountForm):
    error_field = "code"
    sign_in_failed = CODE_FAILED

    code = StringField(
        _l("6-digit code from your authenticator app (or a recovery code)"),
        validators=[DataRequired(_l("Please enter the code.")), Length(max=32)],
    )


class EnrolForm(AccountForm):
    error_field = "code"

    code = StringField(
        _l("6-digit code shown by the app"),
        validators=[DataRequired(_l("Please enter the code your app shows.")), Length(max=16)],
    )


class ResetRequestForm(FlaskForm):
    email = email_field()


class SetPasswordForm(AccountForm):
    password, confirm = new_password_fields()


class ChangePasswordForm(AccountForm):
    error_field = "current"

    current = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Please enter your current password."))]
    )
    password, confirm = new_password_fields()


class InviteForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=name_validators(_l("Please enter a name.")), filters=[strip_blanks]
    )
    email = email_field()
    role = SelectField(
        _l("Role"), choices=[SelectChoice("staff", _l("Staff")), SelectChoice("owner", _l("Owner"))]
    )


class ConfirmWithPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Your password"), validators=[DataRequired(_l("Please enter your password to confirm."))]
    )


class SignUpForm(AccountForm):
    name = StringField(_l("Your name"), validators=name_validators(), filters=[strip_blanks])
    email = email_field()
    phone = TelField(_l("Phone (optional)"), validators=[Length(max=40)], filters=[strip_blanks])
    password, confirm = new_password_fields()


#: Units offered for the lock's length and the idle limit.
DURATION_UNITS = ("minutes", "hours")
#: (shortest, longest) in minutes, and what is said outside them.
LOCK_MINUTES = (1, 24 * 60, _l("The lock must last from 1 minute to 24 hours."))
IDLE_MINUTES = (5, 4 * 60, _l("The idle timeout must be from 5 minutes to 4 hours."))


PASSKEY_POLICIES = (PASSKEYS_OPTIONAL, PASSKEYS_FOR_OWNERS, PASSKEYS_FOR_ALL)
PASSKEY_POLICY_CHOICE = _l("Choose nobody, owners or all staff.")


class SecuritySettingsForm(FlaskForm):
    password_min_length = IntegerField(
        _l("Minimum password length"),
        validators=[
            InputRequired(_l("Please enter a minimum length.")),
            NumberRange(8, 128, _l("The minimum length must be between 8 and 128.")),
        ],
    )
    password_require_upper = BooleanField(_l("Require an uppercase letter"))
    password_require_digit = BooleanField(_l("Require a digit"))
    password_require_special = BooleanField(_l("Require a special character"))
    password_min_strength = SelectField(
        _l("Minimum password strength"),
        coerce=int,
        choices=[
            SelectChoice(0, _l("0 – no strength check")),
            SelectChoice(1, _l("1 – weak")),
            SelectChoice(2, _l("2 – fair")),
            SelectChoice(3, _l("3 – strong (recommended)")),
            SelectChoice(4, _l("4 – very strong")),
        ],
    )
    lockout_attempts = IntegerField(
        _l("Failed sign-ins allowed before locking"),
        validators=[
            InputRequired(_l("Please enter a number of attempts.")),
            NumberRange(3, 100, _l("Allow between 3 and 100 attempts.")),
        ],
    )
    lockout_mode = RadioField(
        _l("After that"),
        choices=[
            SelectChoice(
                "timed", _l("Lock for a time (doubling on each repeated lock, at most a day)")
            ),
            SelectChoice("until_unlocked", _l("Lock until an owner unlocks the account")),
        ],
    )
    #: The number of the lock's length; its unit is ``lockout_unit`` (minutes when not sent).
    lockout_minutes = IntegerField(
        _l("Lock duration"),
        validators=[InputRequired(_l("Please enter a lock duration."))],
    )
    lockout_unit = unit_field(DURATION_UNITS)
    require_2fa = BooleanField(_l("Require two-factor sign-in for all staff"))
    passkey_policy = RadioField(
        _l("Phishing-resistant sign-in (passkeys) required for"),
        choices=[
            SelectChoice("optional", _l("nobody (passkeys are optional)")),
            SelectChoice("owners", _l("owners")),
            SelectChoice("all", _l("all staff")),
        ],
        validate_choice=False,
    )
    idle_timeout_minutes = IntegerField(
        _l("Sign staff out after being idle for"),
        validators=[InputRequired(_l("Please enter an idle timeout."))],
    )
    idle_timeout_unit = unit_field(DURATION_UNITS)
    client_accounts_enabled = BooleanField(_l("Clients may create accounts"))
    client_passkeys_enabled = BooleanField(_l("Clients may add a passkey"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_submitted():
            for number, unit in self._durations():
                if number.data is not None:
                    number.data, unit.data = split_minutes(number.data, DURATION_UNITS)

    def _durations(self):
        return (
            (self.lockout_minutes, self.lockout_unit),
            (self.idle_timeout_minutes, self.idle_timeout_unit),
        )

    def minutes(self, number) -> int | None:
        """A duration field with its unit, in minutes."""
        unit = {id(n): u for n, u in self._durations()}[id(number)]
        return in_minutes(number.data, unit.data)

    def _check_range(self, number, limits) -> None:
        low, high, message = limits
        minutes = self.minutes(number)
        if minutes is not None and not low <= minutes <= high:
            raise ValidationError(str(message))

    def validate_passkey_policy(self, field) -> None:
        if field.data not in PASSKEY_POLICIES:
            raise ValidationError(str(PASSKEY_POLICY_CHOICE))

    def validate_lockout_minutes(self, field) -> None:
        self._check_range(field, LOCK_MINUTES)

    def validate_idle_timeout_minutes(self, field) -> None:
        self._check_range(field, IDLE_MINUTES)
