"""Sign-in, password and two-factor forms."""

from __future__ import annotations

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
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
)

from portal.accounts.password_rules import MAX_LENGTH


def _strip(value):
    return value.strip() if isinstance(value, str) else value


EMAIL_VALIDATORS = [
    DataRequired("Please enter your e-mail address."),
    Length(max=254, message="That e-mail address is too long."),
    Email("Please enter a valid e-mail address, like name@example.com."),
]


def new_password_fields():
    password = PasswordField(
        "New password",
        validators=[
            DataRequired("Please choose a password."),
            Length(max=MAX_LENGTH, message=f"Use at most {MAX_LENGTH} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Please repeat the password."),
            EqualTo("password", message="The two passwords are not the same."),
        ],
    )
    return password, confirm


class SignInForm(FlaskForm):
    email = EmailField("E-mail", validators=EMAIL_VALIDATORS, filters=[_strip])
    password = PasswordField(
        "Password", validators=[DataRequired("Please enter your password."), Length(max=4096)]
    )


class CodeForm(FlaskForm):
    code = StringField(
        "6-digit code from your authenticator app (or a recovery code)",
        validators=[DataRequired("Please enter the code."), Length(max=32)],
    )


class EnrolForm(FlaskForm):
    code = StringField(
        "6-digit code shown by the app",
        validators=[DataRequired("Please enter the code your app shows."), Length(max=16)],
    )


class ResetRequestForm(FlaskForm):
    email = EmailField("E-mail", validators=EMAIL_VALIDATORS, filters=[_strip])


class SetPasswordForm(FlaskForm):
    password, confirm = new_password_fields()


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        "Current password", validators=[DataRequired("Please enter your current password.")]
    )
    password, confirm = new_password_fields()


class InviteForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Please enter a name."), Length(max=200)])
    email = EmailField("E-mail", validators=EMAIL_VALIDATORS, filters=[_strip])
    role = SelectField(
        "Role", choices=[SelectChoice("staff", "Staff"), SelectChoice("owner", "Owner")]
    )


class ConfirmWithPasswordForm(FlaskForm):
    password = PasswordField(
        "Your password", validators=[DataRequired("Please enter your password to confirm.")]
    )


class SignUpForm(FlaskForm):
    name = StringField(
        "Your name", validators=[DataRequired("Please enter your name."), Length(max=200)]
    )
    email = EmailField("E-mail", validators=EMAIL_VALIDATORS, filters=[_strip])
    phone = TelField("Phone (optional)", validators=[Length(max=40)])
    password, confirm = new_password_fields()


class SecuritySettingsForm(FlaskForm):
    password_min_length = IntegerField(
        "Minimum password length",
        validators=[
            InputRequired("Please enter a minimum length."),
            NumberRange(8, 128, "The minimum length must be between 8 and 128."),
        ],
    )
    password_require_upper = BooleanField("Require an uppercase letter")
    password_require_digit = BooleanField("Require a digit")
    password_require_special = BooleanField("Require a special character")
    password_min_strength = SelectField(
        "Minimum strength (zxcvbn score)",
        coerce=int,
        choices=[
            SelectChoice(0, "0 – no strength check"),
            SelectChoice(1, "1 – weak"),
            SelectChoice(2, "2 – fair (recommended)"),
            SelectChoice(3, "3 – strong"),
            SelectChoice(4, "4 – very strong"),
        ],
    )
    lockout_attempts = IntegerField(
        "Failed sign-ins allowed before locking",
        validators=[
            InputRequired("Please enter a number of attempts."),
            NumberRange(3, 100, "Allow between 3 and 100 attempts."),
        ],
    )
    lockout_mode = RadioField(
        "After that",
        choices=[
            SelectChoice(
                "timed", "Lock for a time (doubling on each repeated lock, at most a day)"
            ),
            SelectChoice("until_unlocked", "Lock until an owner unlocks the account"),
        ],
    )
    lockout_minutes = IntegerField(
        "Lock duration in minutes",
        validators=[
            InputRequired("Please enter a lock duration."),
            NumberRange(1, 1440, "The lock must last between 1 and 1440 minutes."),
        ],
    )
    require_2fa = BooleanField("Require two-factor sign-in for all staff")
    idle_timeout_minutes = IntegerField(
        "Sign staff out after this many idle minutes",
        validators=[
            InputRequired("Please enter an idle timeout."),
            NumberRange(5, 240, "The idle timeout must be between 5 and 240 minutes."),
        ],
    )
    client_accounts_enabled = BooleanField("Clients may create accounts")
