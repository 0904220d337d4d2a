"""Staff sign-in: password, second factor, sign-out, reset, invitations, own account."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts import flow, limits, service, totp
from portal.accounts.current import (
    current_staff,
    current_token,
    origin,
    secret_box,
    sign_out,
    staff_required,
)
from portal.accounts.forms import (
    ChangePasswordForm,
    CodeForm,
    EnrolForm,
    ResetRequestForm,
    SetPasswordForm,
    SignInForm,
)
from portal.accounts.hooks import pending_step, two_factor_required_by_feature
from portal.accounts.models import INVITE, RESET, StaffUser
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db, limiter
from portal.web.forms import form_status
from portal.web.safety import safe_next_url
from portal.web.security import no_referrer

blueprint = Blueprint("staff_auth", __name__, url_prefix="/staff")


@blueprint.before_request
def _require_pending_steps():
    return pending_step()


@blueprint.route("/login", methods=["GET", "POST"])
@writes
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def login():
    if current_staff() is not None:
        return redirect(url_for("staff.dashboard"))
    form = SignInForm()
    next_url = safe_next_url(request.args.get("next"))
    if form.submit_to(
        lambda: flow.staff_password_step(form.email.data, form.password.data, next_url)
    ):
        return redirect(form.result)
    return render_template("accounts/login.html", form=form), form_status(form)


@blueprint.route("/2fa", methods=["GET", "POST"])
@writes
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.pending_user_key, methods=["POST"])
def two_factor():
    user = flow.pending_user()
    if user is None:
        flash(_("Please sign in again."))
        return redirect(url_for("staff_auth.login"))
    form = CodeForm()
    if form.submit_to(lambda: flow.second_factor_step(user, form.code.data)):
        return redirect(form.result)
    # No app (or the owner requires the passkey the user has): the field takes recovery codes.
    app_codes = service.app_codes_accepted(
        service.security_settings(db.session, user.business_id), user
    )
    if not app_codes:
        form.code.label.text = _("Recovery code")
    page = render_template("accounts/two_factor.html", form=form, user=user, app_codes=app_codes)
    return page, form_status(form)


@blueprint.post("/logout")
@writes
def logout():
    sign_out()
    flash(str(flow.SIGNED_OUT))
    return redirect(url_for("staff_auth.login"))


@blueprint.route("/reset", methods=["GET", "POST"])
@writes
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if not form.validate_on_submit():
        return render_template("accounts/reset_request.html", form=form), form_status(form)
    flow.offer_password_reset(service.find_staff(db.session, form.email.data), "staff_auth.reset")
    return render_template("accounts/reset_sent.html", email=form.email.data)


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
@writes
@no_referrer
@limiter.limit(limits.per_address, methods=["POST"])
def reset(token: str):
    return _set_password_from_link(token, RESET, "accounts/reset.html")


@blueprint.route("/invite/<token>", methods=["GET", "POST"])
@writes
@no_referrer
@limiter.limit(limits.per_address, methods=["POST"])
def accept_invite(token: str):
    return _set_password_from_link(token, INVITE, "accounts/accept_invite.html")


def _set_password_from_link(token: str, purpose: str, template: str):
    link = flow.link_or_404(token, purpose, StaffUser)
    form = SetPasswordForm()
    if form.submit_to(lambda: flow.set_password_by_link(link, form.password.data)):
        flash(str(flow.password_set_notice(link.account)))
        return redirect(url_for("staff_auth.login"))
    rules = service.password_rules(db.session, link.account.business_id).describe()
    page = render_template(template, form=form, user=link.account, rules=rules)
    return page, form_status(form)


@blueprint.route("/account/password", methods=["GET", "POST"])
@writes
@staff_required
def change_password():
    user, form = g.staff, ChangePasswordForm()
    if form.submit_to(
        lambda: service.change_password(
            db.session,
            user,
            form.current.data,
            form.password.data,
            utcnow(),
            origin=origin(),
            keep_session=current_token(),
        )
    ):
        flash(_("Your password is changed. Your other sessions were signed out."))
        return redirect(url_for("staff.dashboard"))
    rules = service.password_rules(db.session, user.business_id).describe()
    page = render_template(
        "accounts/change_password.html", form=form, rules=rules, forced=user.must_change_password
    )
    return page, form_status(form)


@blueprint.route("/account/2fa", methods=["GET", "POST"])
@writes
@staff_required
def enrol_2fa():
    user, box, form = g.staff, secret_box(), EnrolForm()
    if user.has_totp:
        return render_template("accounts/two_factor_on.html", user=user)
    # Kept (committed with this page) so that a reload shows the same QR code.
    secret = service.start_enrolment(db.session, user, box)
    if form.submit_to(
        lambda: service.activate_2fa(db.session, user, form.code.data, utcnow(), box, origin())
    ):
        # Shown once, in this response, never stored in plain text.
        return render_template("accounts/recovery_codes.html", codes=form.result)
    business = db.session.get(Business, user.business_id)
    page = render_template(
        "accounts/enrol_2fa.html",
        form=form,
        required=service.security_settings(db.session, user.business_id).require_2fa
        or two_factor_required_by_feature(db.session, user.business_id),
        **totp.enrolment_page(secret, user.email, business.name),
    )
    return page, form_status(form)


@blueprint.app_context_processor
def _inject_principal():
    return {"signed_in_staff": current_staff() if current_user else None}
