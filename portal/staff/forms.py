"""Forms of the staff area that add the business's own rules to the accounts forms."""

from __future__ import annotations

from flask_babel import gettext as _
from wtforms.validators import ValidationError

from portal.accounts.forms import SecuritySettingsForm
from portal.accounts.models import SecuritySettings
from portal.hipaa.models import HIPAA_IDLE_TIMEOUT_MINUTES


class StaffSecurityForm(SecuritySettingsForm):
    """The owner's security settings; in HIPAA mode the idle timeout has a ceiling."""

    def __init__(self, *args, hipaa: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hipaa = hipaa

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
