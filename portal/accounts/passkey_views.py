"""Staff passkeys: signing in with one, the second step with one, and the page that manages them.

The browser side is ``static/passkeys.js``: it asks an ``options`` URL for what
to pass to ``navigator.credentials``, then posts the credential, as JSON, to
the matching finish URL. Every JSON answer is ``{"publicKey": ...}``,
``{"redirect": url}`` or ``{"error": message}`` with a 4xx status.
"""

from __future__ import annotations

import json
from functools import wraps

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.accounts import flow, limits, passkeys
from portal.accounts.current import current_staff, staff_required
from portal.accounts.hooks import pending_step
from portal.accounts.models import StaffUser
from portal.accounts.service import security_settings
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db, limiter
from portal.web.errors import render_error
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l
from portal.web.safety import safe_next_url
from portal.web.security import no_referrer

blueprint = Blueprint("passkeys", __name__, url_prefix="/staff")

UNAVAILABLE = _l("Passkeys cannot be used at this address.")
SIGN_IN_AGAIN = _l("Please sign in again.")
MALFORMED = _l("The browser sent something we could not read. Please try again.")
NO_PASSKEY = _l("Your account has no passkey. Use the code field instead.")
FORM_EXPIRED = _l("This page has expired. Please reload it and try again.")
TOO_FAST = _l("You are going a little fast. Please wait a moment and retry.")
FAILED = _l("That did not work. Please reload the page and try again.")

#: The endpoints that answer JSON (their errors too): the ones static/passkeys.js posts to.
JSON_ENDPOINTS = {
    "passkeys.sign_in_options",
    "passkeys.sign_in",
    "passkeys.second_factor_options",
    "passkeys.second_factor",
    "passkeys.add_options",
    "passkeys.add",
}


@blueprint.before_request
def _require_pending_steps():
    return pending_step()


@blueprint.app_template_global()
def passkeys_offered() -> bool:
    """Whether a page may show passkey buttons: passkeys work at this address."""
    return flow.passkey_relying_party() is not None


def _error(message, status: int = 400):
    return jsonify(error=str(message)), status


def _options(options_json: str):
    return jsonify(publicKey=json.loads(options_json))


def _credential() -> tuple[str | None, dict]:
    """The credential of a JSON body ``{"credential": {...}, ...}`` (as JSON text) and the body."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return None, {}
    return json.dumps(body["credential"]), body


def relying_party_required(view):
    """The view needs passkeys to work at this address (``g.relying_party``)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.relying_party = flow.passkey_relying_party()
        if g.relying_party is None:
            return _error(UNAVAILABLE, 404)
        return view(*args, **kwargs)

    return wrapper


def own_account_required(view):
    """The view is about the signed-in staff member's own passkeys (not support's)."""

    @wraps(view)
    @staff_required
    def wrapper(*args, **kwargs):
        if not isinstance(g.staff, StaffUser):
            message = _("Only staff members can manage their own passkeys.")
            if request.endpoint in JSON_ENDPOINTS:
                return _error(message, 403)
            return render_error(403, message)
        return view(*args, **kwargs)

    return wrapper


# --- Signing in ------------------------------------------------------------------


@blueprint.post("/passkey/options")
@writes
@limiter.limit(limits.per_address)
@relying_party_required
def sign_in_options():
    return _options(
        passkeys.authentication_options(
            db.session, g.relying_party, flow.passkey_binding(), utcnow()
        )
    )


@blueprint.post("/passkey")
@writes
@limiter.limit(limits.per_address)
@relying_party_required
def sign_in():
    credential, _body = _credential()
    if credential is None:
        return _error(MALFORMED)
    next_url = safe_next_url(request.args.get("next"))
    try:
        return jsonify(redirect=flow.staff_passkey_sign_in(g.relying_party, credential, next_url))
    except passkeys.PasskeyRefused as refusal:
        return _error(refusal.message, 403)


@blueprint.post("/2fa/passkey/options")
@writes
@limiter.limit(limits.per_address)
@limiter.limit(limits.per_account, key_func=limits.pending_user_key)
@relying_party_required
def second_factor_options():
    user = flow.pending_user()
    if user is None:
        return _error(SIGN_IN_AGAIN, 401)
    if not user.has_passkey:
        return _error(NO_PASSKEY)
    return _options(
        passkeys.authentication_options(
            db.session, g.relying_party, flow.passkey_binding(), utcnow(), account=user
        )
    )


@blueprint.post("/2fa/passkey")
@writes
@limiter.limit(limits.per_address)
@limiter.limit(limits.per_account, key_func=limits.pending_user_key)
@relying_party_required
def second_factor():
    user = flow.pending_user()
    if user is None:
        return _error(SIGN_IN_AGAIN, 401)
    credential, _body = _credential()
    if credential is None:
        return _error(MALFORMED)
    try:
        return jsonify(redirect=flow.passkey_second_factor_step(user, g.relying_party, credential))
    except passkeys.PasskeyRefused as refusal:
        return _error(refusal.message, 403)


# --- The staff member's own passkeys ----------------------------------------------


@blueprint.get("/account/passkeys")
@own_account_required
def manage():
    user = g.staff
    return render_template(
        "accounts/passkeys.html",
        passkeys=[passkeys.describe(passkey) for passkey in user.passkeys],
        relying_party=flow.passkey_relying_party(),
        configured=flow.configured_relying_party(),
        required=security_settings(db.session, user.business_id).passkey_required(user),
        business=db.session.get(Business, user.business_id),
    )


def _account_key() -> str:
    """Re-entered passwords count per account, whatever address they come from."""
    staff = current_staff()
    return f"passkey-confirm:{getattr(staff, 'id', request.remote_addr)}"


@blueprint.post("/account/passkeys/options")
@writes
@limiter.limit(limits.per_address)
@limiter.limit(limits.per_account, key_func=_account_key)
@own_account_required
@relying_party_required
def add_options():
    name, confirm = request.form.get("name"), request.form.get("confirm")
    if not isinstance(name, str) or not isinstance(confirm, str) or len(confirm) > 4096:
        return _error(_("Please fill in both fields."))
    if not confirm:
        return _error(_("Please enter your password, or a code from your authenticator app."))
    try:
        return _options(flow.passkey_registration_options(g.staff, g.relying_party, name, confirm))
    except passkeys.PasskeyError as refusal:
        return _error(refusal, 422)


@blueprint.post("/account/passkeys")
@writes
@limiter.limit(limits.per_address)
@own_account_required
@relying_party_required
def add():
    credential, body = _credential()
    if credential is None or not isinstance(body.get("name"), str):
        return _error(MALFORMED)
    try:
        added = flow.add_passkey(g.staff, g.relying_party, credential, body["name"])
    except passkeys.PasskeyError as refusal:
        return _error(refusal, 422)
    except passkeys.PasskeyRefused as refusal:
        return _error(refusal.message, 403)
    if added.recovery_codes:
        return jsonify(redirect=url_for("passkeys.recovery_codes"))
    flash(_("Your passkey \u201c%(name)s\u201d is added.", name=added.passkey.name))
    return jsonify(redirect=url_for("passkeys.manage"))


@blueprint.get("/account/passkeys/recovery-codes")
@no_referrer
@own_account_required
def recovery_codes():
    codes = flow.take_recovery_codes()
    if codes is None:
        flash(_("Recovery codes are shown only once, right after they are made."))
        return redirect(url_for("passkeys.manage"))
    # Shown once, in this response; the session no longer holds them.
    return render_template("accounts/passkey_recovery_codes.html", codes=codes)


@blueprint.post("/account/passkeys/<int:passkey_id>/remove")
@writes
@own_account_required
def remove(passkey_id: int):
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("passkeys.manage"))
    try:
        removed = flow.remove_passkey(g.staff, passkey_id)
    except passkeys.PasskeyError as refusal:
        flash(str(refusal))
    else:
        flash(_("The passkey \u201c%(name)s\u201d is removed.", name=removed.name))
    return redirect(url_for("passkeys.manage"))


# --- Errors of the JSON endpoints: JSON too ------------------------------------------


@blueprint.errorhandler(CSRFError)
@blueprint.errorhandler(RateLimitExceeded)
@blueprint.errorhandler(HTTPException)
def _json_error(error: HTTPException):
    if request.endpoint not in JSON_ENDPOINTS:
        # The manage page and its forms: the site's own error pages.
        if isinstance(error, CSRFError):
            return render_error(400, str(FORM_EXPIRED))
        return render_error(error.code or 400)
    if isinstance(error, CSRFError):
        return _error(FORM_EXPIRED)
    if isinstance(error, RateLimitExceeded):
        return _error(TOO_FAST, 429)
    return _error(FAILED, error.code or 400)
