"""Steps a signed-in staff user must take before any other staff page."""

from __future__ import annotations

from flask import Flask, current_app, redirect, request, url_for

from portal.accounts.current import current_staff
from portal.accounts.hooks import account_hooks
from portal.accounts.models import StaffUser
from portal.accounts.passkeys import RelyingParty
from portal.accounts.service import security_settings
from portal.extensions import db
from portal.hipaa.service import must_enrol_2fa

#: Pages that stay open while a required step is pending.
ALWAYS_OPEN = {"staff_auth.logout", "static"}
#: Where a user whose business requires a passkey adds the first one.
PASSKEY_PAGES = {
    "passkeys.manage",
    "passkeys.add_options",
    "passkeys.add",
    "passkeys.recovery_codes",
}


def pending_step_redirect():
    """Send a user who must change the password or enrol in 2FA to that page first."""
    user = current_staff()
    if user is None or request.endpoint in ALWAYS_OPEN:
        return None
    if user.must_change_password:
        if request.endpoint != "staff_auth.change_password":
            return redirect(url_for("staff_auth.change_password"))
        return None
    # The owner's passkey rule: a passkey right after the password (it is two-factor too).
    if _must_add_passkey(user):
        # The owner may still reach the Security page: a device without passkeys is no lock-out.
        if request.endpoint not in PASSKEY_PAGES and not (
            user.is_owner and request.endpoint == "staff.security"
        ):
            return redirect(url_for("passkeys.manage"))
        return None
    # The owner's 2FA rule or HIPAA mode: enrolment right after the password.
    # A passkey is a second factor too: its pages stay open as well.
    must_enrol = must_enrol_2fa(db.session, user)
    if must_enrol and request.endpoint not in {"staff_auth.enrol_2fa", *PASSKEY_PAGES}:
        return redirect(url_for("staff_auth.enrol_2fa"))
    return None


def _must_add_passkey(user) -> bool:
    """Whether ``user``'s business requires a passkey they do not have yet.

    Not where passkeys cannot work (an IP address in PORTAL_BASE_URL): nobody
    could add one, and everybody would be shut out of the staff area.
    """
    if not isinstance(user, StaffUser) or user.has_passkey:
        return False
    if RelyingParty.from_base_url(current_app.config["BASE_URL"]) is None:
        return False
    return security_settings(db.session, user.business_id).passkey_required(user)


def init_app(app: Flask) -> None:
    """The staff account pages (``staff_auth``) ask accounts for pending steps: these."""
    account_hooks(app).pending_steps.append(pending_step_redirect)
