"""Optional client accounts at /b/<slug>/account: sign up, sign in, my bookings."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.accounts import clients, limits, service, tokens
from portal.accounts.current import origin, sign_in, sign_out, signed_in_client
from portal.accounts.forms import ResetRequestForm, SetPasswordForm, SignInForm, SignUpForm
from portal.accounts.models import CLIENT_KIND, RESET, VERIFY, ClientAccount
from portal.accounts.notifications import absolute_url, send_account_mail, send_reset_link
from portal.audit import service as audit
from portal.booking import mailing
from portal.booking import service as booking_service
from portal.booking.models import LATE_CANCEL_REFUSED
from portal.clients.service import note_client_event
from portal.clock import utcnow
from portal.extensions import db, limiter
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l
from portal.web.security import no_referrer
from portal.web.tenancy import bind_business, current_business

blueprint = Blueprint("client_accounts", __name__, url_prefix="/b/<slug>/account")
bind_business(blueprint)

SIGN_IN_FAILED = _l(
    "Sign-in failed: the e-mail address or password is wrong, or the account is locked "
    "after too many attempts. Try again later or reset your password."
)
VERIFY_LIFETIME = tokens.INVITE_LIFETIME


@blueprint.before_request
def _accounts_must_be_enabled():
    business = current_business()
    if not clients.accounts_enabled(db.session, business):
        abort(
            404,
            description=_(
                "%(business)s does not offer client accounts. You can book without one.",
                business=business.name,
            ),
        )


def _signed_in_here() -> ClientAccount | None:
    return signed_in_client(current_business())


@blueprint.route("/signup", methods=["GET", "POST"])
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def signup():
    business = current_business()
    form = SignUpForm()
    rules = service.password_rules(db.session, business.id).describe()
    if form.validate_on_submit():
        now = utcnow()
        try:
            account, created = clients.sign_up(
                db.session,
                business,
                name=form.name.data.strip(),
                email=form.email.data,
                phone=(form.phone.data or "").strip(),
                password=form.password.data,
            )
        except service.PasswordRejected as rejected:
            form.password.errors.extend(rejected.problems)
        else:
            if created:
                token = tokens.issue(db.session, account, VERIFY, now, VERIFY_LIFETIME)
                audit.record(
                    db.session,
                    audit.CLIENT_SIGNED_UP,
                    now,
                    business_id=business.id,
                    actor=account,
                    origin=origin(),
                )
                send_account_mail(
                    account,
                    _("Confirm your account at %(business)s", business=business.name),
                    "accounts/email/verify.txt",
                    business=business,
                    url=absolute_url(url_for("client_accounts.verify", token=token)),
                )
            else:
                send_account_mail(
                    account,
                    _("Your account at %(business)s", business=business.name),
                    "accounts/email/already_registered.txt",
                    business=business,
                    login_url=absolute_url(url_for("client_accounts.login")),
                    reset_url=absolute_url(url_for("client_accounts.reset_request")),
                )
            db.commit()
            return render_template(
                "accounts/client_check_mail.html", business=business, email=form.email.data
            )
    status = 422 if request.method == "POST" else 200
    return render_template(
        "accounts/client_signup.html", business=business, form=form, rules=rules
    ), status


@blueprint.get("/verify/<token>")
@no_referrer
def verify(token: str):
    now = utcnow()
    record = tokens.find_valid(db.session, token, VERIFY, CLIENT_KIND, now)
    account = db.session.get(ClientAccount, record.account_id) if record else None
    if account is None or account.business_id != current_business().id:
        abort(
            404,
            description=_(
                "This confirmation link is not valid any more. Sign up again to get a new one."
            ),
        )
    clients.confirm_email(account, now)
    record.used_at = now
    db.commit()
    flash(_("Your e-mail address is confirmed. You can sign in now."))
    return redirect(url_for("client_accounts.login"))


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def login():
    business = current_business()
    if _signed_in_here() is not None:
        return redirect(url_for("client_accounts.bookings"))
    form = SignInForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("accounts/client_login.html", business=business, form=form), status
    now = utcnow()
    account = clients.find_client_account(db.session, business, form.email.data)
    try:
        service.authenticate(
            db.session,
            account,
            form.password.data,
            now,
            email=form.email.data,
            business_id=business.id,
            origin=origin(),
        )
    except service.SignInFailed as failure:
        if failure.just_locked:
            send_account_mail(
                failure.account,
                _("Your account at %(business)s was locked", business=business.name),
                "accounts/email/locked.txt",
                business=business,
                reset_url=absolute_url(url_for("client_accounts.reset_request")),
            )
        db.commit()
        form.password.errors.append(SIGN_IN_FAILED)
        return render_template("accounts/client_login.html", business=business, form=form), 422
    if account.email_verified_at is None:
        db.commit()
        form.email.errors.append(
            _(
                "Please confirm your e-mail address first: "
                "open the link we sent you when you signed up."
            )
        )
        return render_template("accounts/client_login.html", business=business, form=form), 422
    sign_in(account)
    service.record_sign_in(db.session, account, now, origin())
    db.commit()
    if account.must_change_password:
        flash(_("The business has tightened its password rules: please choose a new password."))
        return redirect(url_for("client_accounts.reset_request"))
    return redirect(url_for("client_accounts.bookings"))


@blueprint.post("/logout")
def logout():
    sign_out()
    db.commit()
    flash(_("You are signed out."))
    return redirect(url_for("booking.list_services"))


@blueprint.get("/")
def bookings():
    business = current_business()
    account = _signed_in_here()
    if account is None:
        return redirect(url_for("client_accounts.login"))
    return _render_bookings(business, account)


def _render_bookings(business, account: ClientAccount, refused=None) -> str:
    return render_template(
        "accounts/client_bookings.html",
        business=business,
        account=account,
        bookings=clients.bookings_of(db.session, account),
        now=utcnow(),
        form=EmptyForm(),
        refused=refused,
    )


@blueprint.post("/bookings/<int:booking_id>/cancel")
def cancel_booking(booking_id: int):
    business = current_business()
    account = _signed_in_here()
    if account is None:
        return redirect(url_for("client_accounts.login"))
    booking = clients.booking_of(db.session, account, booking_id)
    if booking is None:
        abort(404, description=_("There is no such booking in your account."))
    if not EmptyForm().validate_on_submit():
        abort(400)
    now = utcnow()
    try:
        booking_service.cancel_by_client(db.session, booking, now)
    except booking_service.CancellationTooLate:
        db.session.rollback()
        # Counted for the chart and the auto-block rule, which may block the client.
        note_client_event(
            db.session, business, booking.client_id, LATE_CANCEL_REFUSED, booking.id, now
        )
        db.commit()
        return _render_bookings(business, account, refused=booking), 409
    except booking_service.AlreadyCancelled:
        db.session.rollback()
        flash(_("That booking was already cancelled."))
        return redirect(url_for("client_accounts.bookings"))
    mailing.send_cancellation(business, booking, absolute_url(url_for("client_accounts.bookings")))
    db.commit()
    flash(_("Your booking is cancelled."))
    return redirect(url_for("client_accounts.bookings"))


@blueprint.route("/reset", methods=["GET", "POST"])
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def reset_request():
    business = current_business()
    form = ResetRequestForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("accounts/reset_request.html", business=business, form=form), status
    now = utcnow()
    account = clients.find_client_account(db.session, business, form.email.data)
    if account is not None and account.active and account.email_verified_at is not None:
        token = service.request_password_reset(db.session, account, now, origin())
        send_reset_link(account, "client_accounts.reset", token)
    db.commit()
    return render_template("accounts/reset_sent.html", business=business, email=form.email.data)


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
@no_referrer
@limiter.limit(limits.per_address, methods=["POST"])
def reset(token: str):
    business = current_business()
    now = utcnow()
    record = tokens.find_valid(db.session, token, RESET, CLIENT_KIND, now)
    account = db.session.get(ClientAccount, record.account_id) if record else None
    if account is None or account.business_id != business.id:
        abort(
            404,
            description=_(
                "This link is not valid any more: it was used already or has expired. "
                "Ask for a new one."
            ),
        )
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            service.set_password(
                db.session,
                account,
                business,
                form.password.data,
                now,
                origin=origin(),
                kind=audit.PASSWORD_RESET,
            )
        except service.PasswordRejected as rejected:
            form.password.errors.extend(rejected.problems)
        else:
            record.used_at = now
            db.commit()
            flash(_("Your password is set. Sign in with it now."))
            return redirect(url_for("client_accounts.login"))
    status = 422 if request.method == "POST" else 200
    rules = service.password_rules(db.session, business.id).describe()
    return render_template(
        "accounts/reset.html", business=business, form=form, user=account, rules=rules
    ), status
