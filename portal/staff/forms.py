"""Forms of the staff area that add the business's own rules to the accounts forms."""

from __future__ import annotations

from flask_babel import gettext as _
from wtforms.validators import ValidationError

from portal.accounts.forms import SecuritySettingsForm
from portal.accounts.models import PASSKEYS_OPTIONAL, SecuritySettings
from portal.hipaa.models import HIPAA_IDLE_TIMEOUT_MINUTES


class StaffSecurityForm(SecuritySettingsForm):
    """The owner's security settings; in HIPAA mode the idle timeout has a ceiling."""

    def __init__(self, *args, hipaa: bool, passkeys_possible: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hipaa = hipaa
        #: Whether PORTAL_BASE_URL names a domain: without one nobody could add a passkey.
        self.passkeys_possible = passkeys_possible

    def validate_passkey_policy(self, field) -> None:
        super().validate_passkey_policy(field)
        if field.data != PASSKEYS_OPTIONAL and not self.passkeys_possible:
            raise ValidationError(
                _(
                    "Passkeys need a domain name in PORTAL_BASE_URL (not an IP address): "
                    "nobody could add one here, so they cannot be required."
                )
            )

    def validate_idle_timeout_minutes(self, field) -> None:
        super().validate_idle_timeout_minutes(field)
        minutes = self.minutes(field)
        if self.hipaa and minutes is not None and minutes > HIPAA_IDLE_TIMEOUT_MINUTES:
            raise ValidationError(
                _("HIPAA mode is on: staff must be signed out after at most 15 idle minutes.")
            )

    def values(self) -> dict:
        """The settings as ``accounts.save_security_settings`` takes them (lengths in minutes)."""
        values = {field: getattr(self, field).data for field in SecuritySettings.EDITABLE}
        for number, _unit in self._durations():
            values[number.name] = self.minutes(number)
        return values
