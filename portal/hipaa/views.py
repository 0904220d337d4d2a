"""The owner's HIPAA page: checklist, the switch, support access and audit retention."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required, secret_box
from portal.accounts.service import AccountError
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.hipaa import service
from portal.hipaa.forms import ComplianceForm, HipaaSwitchForm
from portal.staff.guards import pending_step_redirect
from portal.web.lazy_text import lazy_text as _l

blueprint = Blueprint("hipaa", __name__, url_prefix="/staff/hipaa")
blueprint.before_request(pending_step_redirect)

#: HIPAA mode sends every page of the business to HTTPS: from plain HTTP, switching it
#: on could strand the owner at an address where nothing speaks TLS.
HTTPS_NEEDED = _l(
    "HIPAA mode can be switched on only over HTTPS, because it sends every page of your "
    "business to HTTPS. Open this page at its https:// address and try again; if Portal "
    "is not served over HTTPS yet, ask whoever runs it to set that up first."
)


def _render(switch_form=None, settings_form=None, status: int = 200):
    business = db.session.get(Business, g.staff.business_id)
    settings = service.compliance_settings(db.session, business.id)
    return render_template(
        "hipaa/checklist.html",
        business=business,
        settings=settings,
        # On: the checklist of what is in force. Off: what switching on would do.
        safeguards=service.checklist(
            db.session, business.id, https=bool(current_app.config["FORCE_HTTPS"])
        )
        if settings.hipaa_mode
        else [],
        effects=[]
        if settings.hipaa_mode
        else service.switching_on_effects(db.session, business.id),
        switch_form=switch_form or HipaaSwitchForm(formdata=None),
        settings_form=settings_form or ComplianceForm(formdata=None, obj=settings),
        owner_has_2fa=getattr(g.staff, "has_totp", False),
        owner_has_passkey=getattr(g.staff, "has_passkey", False),
        # Said before the owner types a password the switch would refuse.
        https_needed=None if settings.hipaa_mode or request.is_secure else HTTPS_NEEDED,
    ), status


@blueprint.get("/")
@owner_required
def checklist():
    return _render()


@blueprint.post("/switch")
@writes
@owner_required
def switch():
    form = HipaaSwitchForm()
    if not form.validate_on_submit():
        return _render(switch_form=form, status=422)
    if form.enabling and not request.is_secure:  # is_secure: as ProxyFix trusted it
        form.enable.errors.append(str(HTTPS_NEEDED))
        return _render(switch_form=form, status=403)
    try:
        service.set_hipaa_mode(
            db.session,
            g.staff,
            form.enabling,
            form.password.data,
            form.digits,
            utcnow(),
            secret_box(),
            origin(),
        )
    except AccountError as error:
        form.code.errors.append(str(error))
        return _render(switch_form=form, status=403)
    flash(_("HIPAA mode is on.") if form.enabling else _("HIPAA mode is off."))
    return redirect(url_for("hipaa.checklist"), code=303)


@blueprint.post("/settings")
@writes
@owner_required
def save_settings():
    form = ComplianceForm()
    if not form.validate_on_submit():
        return _render(settings_form=form, status=422)
    try:
        changes = service.save_compliance(db.session, g.staff, form.values(), utcnow(), origin())
    except AccountError as error:
        form.support_access.errors.append(str(error))
        return _render(settings_form=form, status=403)
    flash(_("Saved %(num)d change(s).", num=len(changes)) if changes else _("Nothing changed."))
    return redirect(url_for("hipaa.checklist"), code=303)
