"""Staff sign-in: password, second factor, sign-out, reset, invitations, own account."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts import limits, service, tokens
from portal.accounts import totp as totp_codes
from portal.accounts.current import (
    current_staff,
    current_token,
    origin,
    secret_box,
    sign_in,
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
from portal.accounts.models import INVITE, RESET, STAFF_KIND, StaffUser
from portal.accounts.notifications import absolute_url, send_account_mail, send_reset_link
from portal.audit import service as audit
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.extensions import db, limiter
from portal.hipaa.notices import notify_sign_in
from portal.staff.guards import pending_step_redirect
from portal.web.i18n import clear_session_keeping_language
from portal.web.safety import safe_next_url
from portal.web.security import no_referrer

blueprint = Blueprint("staff_auth", __name__, url_prefix="/staff")


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it (pybabel extracts ``N_``)."""
    return message


#: In English here (tests compare them); translated with ``_()`` where they are shown.
SIGN_IN_FAILED = N_(
    "Sign-in failed: the e-mail address or password is wrong, or the account is locked "
    "after too many attempts. Try again later or reset your password."
)
CODE_FAILED = N_(
    "That code was not accepted. Type the current code from your app, or a recovery code."
)
PENDING_LIFETIME_SECONDS = 300


@blueprint.before_request
def _require_pending_steps():
    return pending_step_redirect()


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def login():
    if current_staff() is not None:
        return redirect(url_for("staff.dashboard"))
    form = SignInForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("accounts/login.html", form=form), status
    now = utcnow()
    user = service.find_staff(db.session, form.email.data)
    try:
        service.authenticate(
            db.session,
            user,
            form.password.data,
            now,
            email=form.email.data,
            business_id=user.business_id if user else None,
            origin=origin(),
        )
    except service.SignInFailed as failure:
        if failure.just_locked:
            _send_locked_mail(failure.account)
        db.commit()
        form.password.errors.append(_(SIGN_IN_FAILED))
        return render_template("accounts/login.html", form=form, failed=True), 422
    next_url = safe_next_url(request.args.get("next"))
    if user.has_2fa:
        clear_session_keeping_language()
        session["pending_2fa"] = {
            "user_id": user.id,
            "at": int(utcnow().timestamp()),
            "next": next_url,
        }
        db.commit()
        return redirect(url_for("staff_auth.two_factor"))
    return _complete_sign_in(user, next_url, method="password")


@blueprint.route("/2fa", methods=["GET", "POST"])
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.pending_user_key, methods=["POST"])
def two_factor():
    user = _pending_user()
    if user is None:
        flash(_("Please sign in again."))
        return redirect(url_for("staff_auth.login"))
    form = CodeForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("accounts/two_factor.html", form=form), status
    try:
        method = service.verify_second_factor(
            db.session, user, form.code.data, utcnow(), secret_box(), origin()
        )
    except service.SignInFailed as failure:
        if failure.just_locked:
            _send_locked_mail(user)
            session.pop("pending_2fa", None)
        db.commit()
        form.code.errors.append(_(CODE_FAILED))
        return render_template("accounts/two_factor.html", form=form), 422
    if method == "recovery":
        send_account_mail(
            user,
            _("A recovery code was used to sign in"),
            "accounts/email/recovery_code_used.txt",
            remaining=service.remaining_recovery_codes(db.session, user),
        )
    next_url = session["pending_2fa"].get("next")
    return _complete_sign_in(user, next_url, method=method)


def _pending_user() -> StaffUser | None:
    pending = session.get("pending_2fa")
    if (
        not isinstance(pending, dict)
        or utcnow().timestamp() - pending.get("at", 0) > PENDING_LIFETIME_SECONDS
    ):
        return None
    user = db.session.get(StaffUser, pending.get("user_id"))
    return user if user is not None and user.active else None


def _complete_sign_in(user: StaffUser, next_url: str | None, *, method: str):
    sign_in(user)
    service.record_sign_in(db.session, user, utcnow(), origin(), method=method)
    notify_sign_in(user, utcnow(), origin())
    db.commit()
    return redirect(next_url or url_for("staff.dashboard"))


def _send_locked_mail(user) -> None:
    business = db.session.get(Business, user.business_id)
    send_account_mail(
        user,
        _("Your %(business)s account was locked", business=business.name),
        "accounts/email/locked.txt",
        business=business,
        reset_url=absolute_url(url_for("staff_auth.reset_request")),
    )


@blueprint.post("/logout")
def logout():
    sign_out()
    db.commit()
    flash(_("You are signed out."))
    return redirect(url_for("staff_auth.login"))


@blueprint.route("/reset", methods=["GET", "POST"])
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("accounts/reset_request.html", form=form), status
    now = utcnow()
    user = service.find_staff(db.session, form.email.data)
    if user is not None and user.active and user.password_hash is not None:
        token = service.request_password_reset(db.session, user, now, origin())
        send_reset_link(user, "staff_auth.reset", token)
    db.commit()
    return render_template("accounts/reset_sent.html", email=form.email.data)


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
@no_referrer
@limiter.limit(limits.per_address, methods=["POST"])
def reset(token: str):
    return _set_password_from_link(token, RESET, "accounts/reset.html")


@blueprint.route("/invite/<token>", methods=["GET", "POST"])
@no_referrer
@limiter.limit(limits.per_address, methods=["POST"])
def accept_invite(token: str):
    return _set_password_from_link(token, INVITE, "accounts/accept_invite.html")


def _set_password_from_link(token: str, purpose: str, template: str):
    now = utcnow()
    record = tokens.find_valid(db.session, token, purpose, STAFF_KIND, now)
    user = db.session.get(StaffUser, record.account_id) if record else None
    if user is None:
        abort(
            404,
            description=_(
                "This link is not valid any more: it was used already or has expired. "
                "Ask for a new one."
            ),
        )
    business = db.session.get(Business, user.business_id)
    rules = service.password_rules(db.session, business.id)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            service.set_password(
                db.session,
                user,
                business,
                form.password.data,
                now,
                origin=origin(),
                kind=audit.PASSWORD_RESET if purpose == RESET else audit.PASSWORD_CHANGED,
            )
        except service.PasswordRejected as rejected:
            form.password.errors.extend(rejected.problems)
        else:
            record.used_at = now
            db.commit()
            # A reset never signs anyone in: the password and the second factor still follow.
            flash(_("Your password is set. Sign in with it now."))
            return redirect(url_for("staff_auth.login"))
    status = 422 if request.method == "POST" else 200
    return render_template(template, form=form, user=user, rules=rules.describe()), status


@blueprint.route("/account/password", methods=["GET", "POST"])
@staff_required
def change_password():
    user = current_staff()
    business = db.session.get(Business, user.business_id)
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(
                db.session,
                user,
                business,
                form.current.data,
                form.password.data,
                utcnow(),
                origin=origin(),
                keep_session=current_token(),
            )
        except service.PasswordRejected as rejected:
            form.password.errors.extend(rejected.problems)
        except service.AccountError as error:
            form.current.errors.append(str(error))
        else:
            db.commit()
            flash(_("Your password is changed. Your other sessions were signed out."))
            return redirect(url_for("staff.dashboard"))
    status = 422 if request.method == "POST" else 200
    rules = service.password_rules(db.session, business.id).describe()
    return render_template(
        "accounts/change_password.html", form=form, rules=rules, forced=user.must_change_password
    ), status


@blueprint.route("/account/2fa", methods=["GET", "POST"])
@staff_required
def enrol_2fa():
    user = current_staff()
    if user.has_2fa:
        return render_template("accounts/two_factor_on.html", user=user)
    business = db.session.get(Business, user.business_id)
    box = secret_box()
    secret = service.start_enrolment(db.session, user, box)
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = service.activate_2fa(db.session, user, form.code.data, utcnow(), box, origin())
        except service.AccountError as error:
            form.code.errors.append(str(error))
        else:
            db.commit()
            # Shown once, in this response, never stored in plain text.
            return render_template("accounts/recovery_codes.html", codes=codes)
    db.commit()  # keep the pending secret so a reload shows the same QR code
    uri = totp_codes.provisioning_uri(secret, user.email, business.name)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "accounts/enrol_2fa.html",
        form=form,
        qr_svg=totp_codes.qr_svg(uri),
        secret=totp_codes.format_secret(secret),
        required=service.security_settings(db.session, user.business_id).require_2fa,
    ), status


@blueprint.app_context_processor
def _inject_principal():
    return {"signed_in_staff": current_staff() if current_user else None}
