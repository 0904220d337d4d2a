"""The business profile page's forms: contact details and colour, the logo upload."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TelField, TextAreaField, URLField, ValidationError

from portal.branding import service as branding
from portal.web.forms import strip_blanks
from portal.web.lazy_text import lazy_text as _l


class ProfileForm(FlaskForm):
    address = TextAreaField(_l("Address (optional)"), filters=[strip_blanks])
    phone = TelField(_l("Phone (optional)"), filters=[strip_blanks])
    website = URLField(_l("Website (optional)"), filters=[strip_blanks])
    accent_color = StringField(_l("Accent colour (optional)"), filters=[strip_blanks])

    def validate_address(self, field):
        field.data = _checked(branding.checked_address, field)

    def validate_phone(self, field):
        field.data = _checked(branding.checked_phone, field)

    def validate_website(self, field):
        field.data = _checked(branding.checked_website, field)

    def validate_accent_color(self, field):
        try:
            field.data = branding.checked_accent(field.data)
        except branding.ProfileError as error:
            if error.suggestion:
                field.data = error.suggestion  # offered: one more "Save" takes it
            raise ValidationError(str(error)) from None

    def values(self) -> dict:
        """The profile as ``branding.update_profile`` takes it."""
        return {name: getattr(self, name).data for name in branding.PROFILE_FIELDS}


class LogoForm(FlaskForm):
    logo = FileField(_l("Logo image (PNG, JPEG or WebP, up to 2 MB)"))


def _checked(check, field):
    try:
        return check(field.data)
    except branding.ProfileError as error:
        raise ValidationError(str(error)) from None
