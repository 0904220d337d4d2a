"""Platform support sign-in."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from portal.web.forms import email_validators
from portal.web.lazy_text import lazy_text as _l

#: Support accounts lock as staff accounts do but have no reset of their own; the
#: operator unlocks them (``portal unlock-support-user``).
SUPPORT_SIGN_IN_FAILED = _l(
    "Sign-in failed: the e-mail address, password or code is wrong, or the account is "
    "locked after too many attempts. Try again later, or ask whoever runs this Portal to "
    "unlock it."
)


class SupportSignInForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=email_validators())
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Please enter your password.")), Length(max=1024)],
    )
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[
            DataRequired(_l("Please enter the 6-digit code from your app.")),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("The code is 6 digits, like 123456.")),
        ],
    )
