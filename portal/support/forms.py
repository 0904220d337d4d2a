"""Platform support sign-in."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp


class SupportSignInForm(FlaskForm):
    email = EmailField(
        "E-mail",
        validators=[
            DataRequired("Please enter your e-mail address."),
            Length(max=254, message="That e-mail address is too long."),
            Email("Please enter a valid e-mail address, like name@example.com."),
        ],
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Please enter your password."), Length(max=1024)]
    )
    code = StringField(
        "Code from your authenticator app",
        validators=[
            DataRequired("Please enter the 6-digit code from your app."),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="The code is 6 digits, like 123456."),
        ],
    )
