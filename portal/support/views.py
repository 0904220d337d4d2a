"""Platform support: sign-in, the business picker, opening and leaving a business."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts import limits, sessions
from portal.accounts.current import origin, secret_box, sign_in, sign_out
from portal.accounts.service import SignInFailed
from portal.businesses.models import Business
from portal.businesses.service import find_business
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db, limiter
from portal.support import service
from portal.support.forms import SUPPORT_SIGN_IN_FAILED, SupportSignInForm
from portal.support.guards import current_support
from portal.support.models import SupportUser
from portal.support.notices import send_lock_notice
from portal.web.errors import render_error
from portal.web.forms import EmptyForm, form_status

blueprint = Blueprint("support", __name__, url_prefix="/support")


@blueprint.route("/login", methods=["GET", "POST"])
@writes
@limiter.limit(limits.per_address, methods=["POST"])
@limiter.limit(limits.per_account, key_func=limits.submitted_email_key, methods=["POST"])
def login():
    if current_support() is not None:
        return redirect(url_for("support.businesses"))
    form = SupportSignInForm()
    if not form.validate_on_submit():
        return render_template("support/login.html", form=form), form_status(form)
    try:
        user = service.authenticate(
            db.session,
            form.email.data,
            form.password.data,
            form.code.data.replace(" ", ""),
            utcnow(),
            secret_box(),
            origin(),
        )
    except SignInFailed as failure:  # audited: the page is returned, not raised
        if failure.just_locked:
            send_lock_notice(failure.account)
        if failure.message is not None:  # the keys changed: nothing the person can retry
            form.code.errors.append(failure.message)
            return render_template("support/login.html", form=form), 409
        form.code.errors.append(SUPPORT_SIGN_IN_FAILED)
        return render_template("support/login.html", form=form), 422
    sign_in(user)
    return redirect(url_for("support.businesses"))


def _support_or_login() -> SupportUser:
    user = current_support()
    if user is None:
        abort(redirect(url_for("support.login")))
    return user


def _support_posting() -> SupportUser:
    """The support user behind a button's POST (CSRF checked); else sign-in or 400."""
    user = _support_or_login()
    if not EmptyForm().validate_on_submit():
        abort(400)
    return user


def _business_or_404(slug: str) -> Business:
    business = find_business(db.session, slug)
    if business is None:
        abort(404, description=_("There is no such business."))
    return business


@blueprint.get("/")
def businesses():
    _support_or_login()
    listed = service.businesses(db.session)
    return render_template(
        "support/businesses.html",
        businesses=listed,
        refusals=service.refusals(db.session, listed),
        form=EmptyForm(),
        current_business_id=current_user.business_id,
    )


@blueprint.post("/open/<slug>")
@writes
def open_business(slug: str):
    user = _support_posting()
    business = _business_or_404(slug)
    try:
        service.open_business(db.session, user, business, utcnow(), origin())
    except service.SupportRefused:  # audited: the refusal is returned so that it is committed
        message = _("%(business)s does not allow platform support access.", business=business.name)
        return render_error(403, message)
    sessions.find(db.session, current_user.token).business_id = business.id
    return redirect(url_for("staff.dashboard"), code=303)


@blueprint.post("/leave")
@writes
def leave():
    _support_posting()
    sessions.find(db.session, current_user.token).business_id = None
    return redirect(url_for("support.businesses"), code=303)


@blueprint.post("/logout")
@writes
def logout():
    sign_out()
    flash(_("You are signed out."))
    return redirect(url_for("support.login"))
