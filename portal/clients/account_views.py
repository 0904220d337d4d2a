"""Optional client accounts at /b/<slug>/account: sign up, sign in, my bookings."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts import flow, limits, service
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
        page = render_template("accounts/client_login.html", business=business, form=form)
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
