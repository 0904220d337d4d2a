"""The owner's business profile page, and the logo as clients' browsers fetch it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from portal.accounts.current import origin, owner_required
from portal.branding import logos
from portal.branding import service as branding
from portal.branding.forms import LogoForm, ProfileForm
from portal.branding.models import BusinessLogo
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import csrf, db
from portal.staff.guards import pending_step_redirect
from portal.staff.pages import form_page, require_button, staff_business
from portal.web.forms import EmptyForm
from portal.web.messages import saved_message
from portal.web.tenancy import bind_business, current_business, load_with_business
from portal.web.urls import absolute_url

blueprint = Blueprint("branding", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)

#: The public side: the logo, under the business's own address.
public = Blueprint("branding_public", __name__, url_prefix="/b/<slug>")
bind_business(public)

#: A year, and never revalidated: a new logo has a new hash, so a new URL.
LOGO_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: The upload's request may exceed the app's 64 KB limit by the logo's 2 MB, no more.
LOGO_REQUEST_MAX = logos.MAX_BYTES + 64 * 1024


@blueprint.record_once
def _read_logo_with_business(state) -> None:
    # Every public page reads the business; its logo row comes in the same query.
    load_with_business(state.app, BusinessLogo, branding.remember_logo)


# -- the owner's page ------------------------------------------------------------------


@blueprint.route("/profile", methods=["GET", "POST"])
@writes
@owner_required
def profile():
    business = staff_business()
    form = ProfileForm(obj=business)
    if form.validate_on_submit():
        changes = branding.update_profile(
            db.session, business, form.values(), g.staff, utcnow(), origin()
        )
        flash(saved_message(changes))
        return redirect(url_for("branding.profile"), 303)
    return _profile_page(business, form, LogoForm(formdata=None))


@blueprint.post("/profile/logo")
@csrf.exempt  # checked below, once the larger size limit of this one form applies
@writes
@owner_required
def upload_logo():
    business = staff_business()
    request.max_content_length = LOGO_REQUEST_MAX
    try:
        csrf.protect()  # CSRFError: the app's "form expired" page (400)
        upload = request.files.get("logo")
        data = upload.stream.read(logos.MAX_BYTES + 1) if upload else b""
    except RequestEntityTooLarge:
        return _logo_refused(business, str(logos.TOO_LARGE), 413)
    try:
        logo = logos.checked_logo(data)
    except logos.LogoRefused as refusal:
        return _logo_refused(business, str(refusal), refusal.status)
    branding.replace_logo(db.session, business, logo, g.staff, utcnow(), origin())
    flash(_("Your logo is saved. Clients see it on your booking pages."))
    return redirect(url_for("branding.profile"), 303)


@blueprint.post("/profile/logo/remove")
@writes
@owner_required
def remove_logo():
    business = staff_business()
    require_button()
    if branding.remove_logo(db.session, business, g.staff, utcnow(), origin()):
        flash(_("The logo is removed."))
    else:
        flash(_("There is no logo to remove."))
    return redirect(url_for("branding.profile"), 303)


def _logo_refused(business: Business, message: str, status: int):
    logo_form = LogoForm(formdata=None)
    logo_form.logo.errors = [message]
    page, _status = _profile_page(business, ProfileForm(formdata=None, obj=business), logo_form)
    return page, status


def _profile_page(business: Business, form: ProfileForm, logo_form: LogoForm):
    return form_page(
        "branding/profile.html",
        business=business,
        form=form,
        logo_form=logo_form,
        remove_form=EmptyForm(formdata=None),
        logo=branding.logo_of(db.session, business.id),
    )


# -- the logo, as served ---------------------------------------------------------------


@public.get("/logo-<string(length=64):content_hash>.png")
def logo(content_hash: str):
    business = current_business()
    row = branding.served_logo(db.session, business.id, content_hash)
    if row is None:
        abort(404, description=_("This logo does not exist (any more)."))
    return _image_response(row)


def _image_response(row: BusinessLogo):
    response = make_response(row.data)
    response.mimetype = row.media_type
    response.headers["Cache-Control"] = LOGO_CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.set_etag(row.content_hash)
    return response


# -- what templates ask ------------------------------------------------------------------


@blueprint.app_template_global()
def business_contact(business) -> branding.Contact | None:
    """The business's contact details (falsy when it has none), for pages and e-mails."""
    return branding.contact(business) if business else None


@blueprint.app_template_global()
def business_accent(business) -> str | None:
    """The business's accent colour "#rrggbb", or None for Portal's own."""
    return branding.accent_of(business) if business else None


@blueprint.app_template_global()
def business_logo(business) -> BusinessLogo | None:
    """The business's logo row (no image data), or None."""
    return branding.logo_of(db.session, business.id) if business else None


@blueprint.app_template_global()
def business_logo_url(business, external: bool = False) -> str | None:
    """Where the business's logo is served, or None without one."""
    row = business_logo(business)
    if row is None:
        return None
    path = url_for("branding_public.logo", slug=business.slug, content_hash=row.content_hash)
    return absolute_url(path) if external else path


@blueprint.app_template_global()
def local_business_data(business) -> dict:
    """schema.org LocalBusiness data of the business (for ``|tojson`` in a JSON-LD block)."""
    page = absolute_url(url_for("booking.list_services", slug=business.slug))
    return branding.local_business(business, page, business_logo_url(business, external=True))
