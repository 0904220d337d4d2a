"""The form of a staff member's own booking-news settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts.models import StaffUser
from portal.staff import notification_prefs as prefs
from portal.web.lazy_text import lazy_text as _l


class NotificationsForm(FlaskForm):
    scope = RadioField(
        _l("E-mail me about"),
        choices=[SelectChoice(scope, prefs.SCOPE_LABELS[scope]) for scope in prefs.SCOPES],
        invalid_choice_message=prefs.CHOOSE_SCOPE,
    )
    events = SelectMultipleField(
        _l("Which news"),
        choices=[SelectChoice(event, prefs.EVENT_LABELS[event]) for event in prefs.EVENTS],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        invalid_choice_message=prefs.CHOOSE_EVENTS,
    )

    @classmethod
    def for_member(cls, user: StaffUser) -> NotificationsForm:
        """The form, filled with the member's current choices unless a POST says otherwise."""
        chosen = prefs.preferences_of(user)
        return cls(data={"scope": chosen.scope, "events": sorted(chosen.events)})
