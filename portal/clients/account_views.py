"""Optional client accounts at /b/<slug>/account: sign up, sign in, my bookings."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from portal.accounts import flow, limits, passkeys, service
from portal.accounts.current import client_required, origin, sign_out, signed_in_client
from portal.accounts.forms import ResetRequestForm, SetPasswordForm, SignInForm, SignUpForm
from portal.accounts.models import RESET, ClientAccount
from portal.accounts.notifications import send_sign_up_mail
from portal.booking import mailing
from portal.booking import service as booking_service
from portal.booking.forms import CancelForm
from portal.booking.pages import account_cancel_page
from portal.clients import accounts
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db, limiter
from portal.web.forms import EmptyForm, form_status
from portal.web.lazy_text import lazy_text as _l
from portal.web.security import no_referrer
from portal.web.tenancy import bind_business, current_business
from portal.web.urls import absolute_url

blueprint = Blueprint("client_accounts", __name__, url_prefix="/b/<slug>/account")
bind_business(blueprint)


@blueprint.before_request
def _accounts_must_be_enabled():
    business = current_business()
    if not service.accounts_enabled(db.session, business):
        abort(
            404,
            description=_(
                "%(business)s does not offer client accounts. You can book without one.",
                business=business.name,
            ),
        )


@blueprint.route("/signup", methods=["GET", "POST"])
@writes
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def signup():
    business, form = current_business(), SignUpForm()
    if form.submit_to(lambda: _sign_up(business, form)):
        email = form.email.data
        return render_template("accounts/client_check_mail.html", business=business, email=email)
    rules = service.password_rules(db.session, business.id).describe()
    page = render_template("accounts/client_signup.html", business=business, form=form, rules=rules)
    return page, form_status(form)


def _sign_up(business, form: SignUpForm) -> None:
    account, token = accounts.sign_up(
        db.session,
        business,
        name=form.name.data,
        email=form.email.data,
        phone=form.phone.data,
        password=form.password.data,
        now=utcnow(),
        origin=origin(),
    )
    send_sign_up_mail(account, business, token)


@blueprint.get("/verify/<token>")
@no_referrer
def verify(token: str):
    account = service.confirm_email(db.session, token, current_business().id, utcnow())
    if account is None:
        abort(
            404,
            description=_(
                "This confirmation link is not valid any more. Sign up again to get a new one."
            ),
        )
    flash(_("Your e-mail address is confirmed. You can sign in now."))
    return redirect(url_for("client_accounts.login"))


@blueprint.route("/login", methods=["GET", "POST"])
@writes
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def login():
    business, form = current_business(), SignInForm()
    if signed_in_client(business) is not None:
        return redirect(url_for("client_accounts.bookings"))
    if not form.submit_to(
        lambda: flow.client_password_step(business, form.email.data, form.password.data)
    ):
        page = render_template(
            "accounts/client_login.html",
            business=business,
            form=form,
            passkey_signin=passkeys_offered(business) and flow.passkey_relying_party() is not None,
        )
        return page, form_status(form)
    if form.result.must_change_password:
        flash(_("The business has tightened its password rules: please choose a new password."))
        return redirect(url_for("client_accounts.reset_request"))
    return redirect(url_for("client_accounts.bookings"))


@blueprint.post("/logout")
@writes
def logout():
    sign_out()
    flash(str(flow.SIGNED_OUT))
    return redirect(url_for("booking.list_services"))


@blueprint.get("/")
@client_required
def bookings():
    return _bookings_page(g.client_account)


@blueprint.get("/bookings/<int:booking_id>/cancel")
@client_required
def confirm_cancel(booking_id: int):
    booking, now = _own_booking_or_404(booking_id), utcnow()
    if booking.is_cancelled:
        flash(_("That booking was already cancelled."))
        return redirect(url_for("client_accounts.bookings"))
    if not booking.can_cancel(now):
        # Only the POST counts as a late attempt: a GET may come from a link preview.
        return _bookings_page(g.client_account, refused=booking), 409
    return account_cancel_page(current_business(), booking, CancelForm(), now)


@blueprint.post("/bookings/<int:booking_id>/cancel")
@writes
@client_required
def cancel_booking(booking_id: int):
    booking, now = _own_booking_or_404(booking_id), utcnow()
    form = CancelForm()
    if not form.validate():
        return account_cancel_page(current_business(), booking, form, now), 422
    try:
        booking_service.cancel_by_client(db.session, booking, now, form.reason.data)
    except booking_service.CancellationTooLate:
        # Noted against the client (and committed with this page); the booking stays.
        return _bookings_page(g.client_account, refused=booking), 409
    except booking_service.AlreadyCancelled:
        flash(_("That booking was already cancelled."))
    else:
        bookings_url = absolute_url(url_for("client_accounts.bookings"))
        mailing.send_cancellation(current_business(), booking, bookings_url)
        flash(_("Your booking is cancelled."))
    return redirect(url_for("client_accounts.bookings"))


def _own_booking_or_404(booking_id: int):
    booking = accounts.booking_of(db.session, g.client_account, booking_id)
    if booking is None:
        abort(404, description=_("There is no such booking in your account."))
    return booking


def _bookings_page(account: ClientAccount, refused=None) -> str:
    return render_template(
        "accounts/client_bookings.html",
        business=current_business(),
        account=account,
        bookings=accounts.bookings_of(db.session, account),
        now=utcnow(),
        form=EmptyForm(),
        refused=refused,
        client_passkeys=passkeys_offered(current_business()),
    )


@blueprint.route("/reset", methods=["GET", "POST"])
@writes
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def reset_request():
    business, form = current_business(), ResetRequestForm()
    if not form.validate_on_submit():
        page = render_template("accounts/reset_request.html", business=business, form=form)
        return page, form_status(form)
    account = service.find_client_account(db.session, business.id, form.email.data)
    flow.offer_password_reset(account, "client_accounts.reset")
    return render_template("accounts/reset_sent.html", business=business, email=form.email.data)


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
@writes
@no_referrer
@limiter.limit(limits.per_address, methods=["POST"])
def reset(token: str):
    business, form = current_business(), SetPasswordForm()
    link = flow.link_or_404(token, RESET, ClientAccount, business.id)
    if form.submit_to(lambda: flow.set_password_by_link(link, form.password.data)):
        flash(str(flow.password_set_notice(link.account)))
        return redirect(url_for("client_accounts.login"))
    rules = service.password_rules(db.session, business.id).describe()
    page = render_template(
        "accounts/reset.html", business=business, form=form, user=link.account, rules=rules
    )
    return page, form_status(form)


# --- Passkeys (when the business lets clients add them) -----------------------

#: The passkey pages: they exist only where the business lets its clients add passkeys.
PASSKEY_ENDPOINTS = frozenset(
    f"client_accounts.{name}"
    for name in (
        "passkeys_page",
        "passkey_add_options",
        "passkey_add",
        "passkey_remove",
        "passkey_sign_in_options",
        "passkey_sign_in",
    )
)
PASSKEY_JSON_ENDPOINTS = PASSKEY_ENDPOINTS - {
    "client_accounts.passkeys_page",
    "client_accounts.passkey_remove",
}
SIGN_IN_AGAIN = _l("Please sign in again.")
MALFORMED = _l("The request did not contain a passkey response.")


@blueprint.before_request
def _passkeys_must_be_enabled():
    if request.endpoint not in PASSKEY_ENDPOINTS:
        return None
    business = current_business()
    if not passkeys_offered(business):
        abort(404, description=_("%(business)s does not offer passkeys.", business=business.name))
    if request.endpoint in PASSKEY_JSON_ENDPOINTS and flow.passkey_relying_party() is None:
        return _json_error(_unavailable_reason())
    return None


def passkeys_offered(business) -> bool:
    """Whether the business lets its clients add passkeys (off by default; needs client accounts)."""
    settings = service.security_settings(db.session, business.id)
    return settings.client_accounts_enabled and settings.client_passkeys_enabled


def _unavailable_reason() -> str:
    """Why passkeys cannot be used at this address: where they work, or that they need a domain."""
    rp = flow.configured_relying_party()
    if rp is None:
        return _(
            "Passkeys need a domain name: this Portal is set up with an IP address in "
            "PORTAL_BASE_URL, so passkeys cannot be used."
        )
    return _("Passkeys work only at %(url)s.", url=rp.origin)


def _json_error(message, status: int = 400):
    return jsonify(error=str(message)), status


def _posted_credential() -> tuple[str | None, dict]:
    """The credential of a JSON body ``{"credential": {...}, ...}`` (as JSON text) and the body."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return None, {}
    return json.dumps(body["credential"]), body


def _confirming_key() -> str:
    """Re-entered passwords count per account, whatever address they come from."""
    account = signed_in_client(current_business())
    return f"client-passkey-confirm:{getattr(account, 'id', request.remote_addr)}"


@blueprint.get("/passkeys")
@client_required
def passkeys_page():
    account = g.client_account
    usable = flow.passkey_relying_party() is not None
    return render_template(
        "accounts/client_passkeys.html",
        business=current_business(),
        account=account,
        passkeys=[passkeys.describe(passkey) for passkey in account.passkeys],
        usable=usable,
        unavailable=None if usable else _unavailable_reason(),
        form=EmptyForm(),
    )


@blueprint.post("/passkeys/options")
@writes
@limiter.limit(limits.per_address)
@limiter.limit(limits.per_account, key_func=_confirming_key)
def passkey_add_options():
    account = signed_in_client(current_business())
    if account is None:
        return _json_error(SIGN_IN_AGAIN, 401)
    name, confirm = request.form.get("name", ""), request.form.get("confirm", "")
    if not confirm:
        return _json_error(_("Please enter your password."))
    try:
        options = flow.passkey_registration_options(
            account, flow.passkey_relying_party(), name, confirm
        )
    except passkeys.PasskeyError as refusal:
        # A client has no authenticator app: only the password is asked of them.
        wrong_secret = str(refusal) == str(flow.NOT_CONFIRMED)
        return _json_error(_("Your password was not correct.") if wrong_secret else refusal, 422)
    return jsonify(publicKey=json.loads(options))


@blueprint.post("/passkeys")
@writes
@limiter.limit(limits.per_address)
def passkey_add():
    account = signed_in_client(current_business())
    if account is None:
        return _json_error(SIGN_IN_AGAIN, 401)
    credential, body = _posted_credential()
    if credential is None or not isinstance(body.get("name"), str):
        return _json_error(MALFORMED)
    try:
        added = flow.add_passkey(account, flow.passkey_relying_party(), credential, body["name"])
    except passkeys.PasskeyError as refusal:
        return _json_error(refusal, 422)
    except passkeys.PasskeyRefused as refusal:
        return _json_error(refusal.message, 403)
    flash(_("Your passkey \u201c%(name)s\u201d is added.", name=added.passkey.name))
    return jsonify(redirect=url_for("client_accounts.passkeys_page"))


@blueprint.post("/passkeys/<int:passkey_id>/remove")
@writes
@client_required
def passkey_remove(passkey_id: int):
    try:
        removed = flow.remove_passkey(g.client_account, passkey_id)
    except passkeys.PasskeyError as error:
        abort(404, description=str(error))
    flash(_("The passkey \u201c%(name)s\u201d is removed.", name=removed.name))
    return redirect(url_for("client_accounts.passkeys_page"), 303)


@blueprint.post("/passkey/options")
@writes
@limiter.limit(limits.per_address)
def passkey_sign_in_options():
    options = passkeys.authentication_options(
        db.session,
        flow.passkey_relying_party(),
        flow.passkey_binding(),
        utcnow(),
        business_id=current_business().id,
    )
    return jsonify(publicKey=json.loads(options))


@blueprint.post("/passkey")
@writes
@limiter.limit(limits.per_address)
def passkey_sign_in():
    credential, _body = _posted_credential()
    if credential is None:
        return _json_error(MALFORMED)
    try:
        flow.client_passkey_sign_in(current_business(), flow.passkey_relying_party(), credential)
    except passkeys.PasskeyRefused as refusal:
        return _json_error(refusal.message)
    return jsonify(redirect=url_for("client_accounts.bookings"))
