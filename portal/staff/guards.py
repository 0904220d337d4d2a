"""Steps a signed-in staff user must take before any other staff page."""

from __future__ import annotations

from flask import Flask, redirect, request, url_for

from portal.accounts.current import current_staff
from portal.accounts.hooks import account_hooks
from portal.extensions import db
from portal.hipaa.service import must_enrol_2fa

#: Pages that stay open while a required step is pending.
ALWAYS_OPEN = {"staff_auth.logout", "static"}


def pending_step_redirect():
    """Send a user who must change the password or enrol in 2FA to that page first."""
    user = current_staff()
    if user is None or request.endpoint in ALWAYS_OPEN:
        return None
    if user.must_change_password:
        if request.endpoint != "staff_auth.change_password":
            return redirect(url_for("staff_auth.change_password"))
        return None
    # The owner's 2FA rule or HIPAA mode: enrolment right after the password.
    must_enrol = must_enrol_2fa(db.session, user)
    if must_enrol and request.endpoint != "staff_auth.enrol_2fa":
        return redirect(url_for("staff_auth.enrol_2fa"))
    return None


def init_app(app: Flask) -> None:
    """The staff account pages (``staff_auth``) ask accounts for pending steps: these."""
    account_hooks(app).pending_steps.append(pending_step_redirect)
