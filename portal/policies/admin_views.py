"""The owner's pages for the terms and the cancellation policy."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.extensions import db
from portal.policies import service
from portal.policies.forms import PolicyForm, TermsForm
from portal.staff.guards import pending_step_redirect

blueprint = Blueprint("policies_admin", __name__, url_prefix="/staff")
TERMS, POLICY = "terms", "policy"
blueprint.before_request(pending_step_redirect)


@blueprint.route("/terms", methods=["GET", "POST"])
@owner_required
def edit_terms():
    business = _business()
    current = service.current_terms(db.session, business)
    data = {"terms_enabled": business.terms_enabled, "body": current.body if current else ""}
    form = TermsForm(data=data)
    if form.validate_on_submit():
        try:
            changes = service.save_terms(
                db.session,
                business,
                enabled=form.terms_enabled.data,
                body=form.body.data,
                actor=g.staff,
                now=utcnow(),
                origin=origin(),
            )
        except service.PolicyError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(_saved_message(changes, "terms_enabled", "terms_version", TERMS))
            return redirect(url_for("policies_admin.edit_terms"), 303)
    return _page("policies/admin_terms.html", business=business, form=form, terms=current)


@blueprint.route("/cancellation-policy", methods=["GET", "POST"])
@owner_required
def edit_policy():
    business = _business()
    current = service.current_policy(db.session, business)
    form = PolicyForm.for_policy(business, current)
    if form.validate_on_submit():
        try:
            changes = service.save_policy(
                db.session,
                business,
                enabled=form.policy_enabled.data,
                draft=form.draft(),
                actor=g.staff,
                now=utcnow(),
                origin=origin(),
            )
        except service.PolicyError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(_saved_message(changes, "cancellation_policy_enabled", "policy_version", POLICY))
            return redirect(url_for("policies_admin.edit_policy"), 303)
    return _page(
        "policies/admin_policy.html",
        business=business,
        form=form,
        policy=current,
        rules=_rules(current),
    )


def _business() -> Business:
    return db.session.get(Business, g.staff.business_id)


def _rules(policy) -> list[str]:
    if policy is None:
        return []
    return [service.cancel_rule(policy), service.reschedule_rule(policy)]


def _saved_message(changes: dict, switch: str, version_key: str, document: str) -> str:
    if not changes:
        return _("Nothing changed.")
    terms = document == TERMS
    parts = []
    if version_key in changes:
        version = changes[version_key][1]
        parts.append(
            _(
                "Published version %(version)s of the terms and conditions: new bookings "
                "accept it, earlier bookings keep the version their clients accepted.",
                version=version,
            )
            if terms
            else _(
                "Published version %(version)s of the cancellation policy: new bookings "
                "accept it, earlier bookings keep the version their clients accepted.",
                version=version,
            )
        )
    if switch in changes:
        if changes[switch][1]:
            parts.append(
                _("Clients must now accept the terms and conditions to book.")
                if terms
                else _("Clients must now accept the cancellation policy to book.")
            )
        else:
            parts.append(
                _("Switched off: clients now book without accepting the terms and conditions.")
                if terms
                else _("Switched off: clients now book without accepting the cancellation policy.")
            )
    return " ".join(parts) or _("Saved.")


def _refuse(form, error: service.PolicyError) -> None:
    db.session.rollback()
    field = getattr(form, error.field, None)
    if field is not None:
        field.errors.append(str(error))
    else:
        form.form_errors.append(str(error))


def _page(template: str, **context):
    """A form page: 422 when a submitted form was refused."""
    return render_template(template, **context), (422 if request.method == "POST" else 200)
