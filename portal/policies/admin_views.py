"""The owner's pages for the terms and the cancellation policy.

Each editor has two buttons: "Save" publishes a changed text as a new version,
"Preview" shows it as clients would read it and saves nothing.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, url_for

from portal.accounts.current import origin, owner_required
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.policies import service
from portal.policies.forms import PolicyForm, TermsForm
from portal.staff.guards import pending_step_redirect
from portal.staff.pages import form_page, refusals_shown_on, staff_business

blueprint = Blueprint("policies_admin", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)


@blueprint.route("/terms", methods=["GET", "POST"])
@writes
@owner_required
def edit_terms():
    business = staff_business()
    current = service.current_terms(db.session, business)
    form = TermsForm.for_terms(business, current)
    previews, valid = [], form.validate_on_submit()
    if valid and form.previewing:
        previews = service.preview_terms(business, form.body.data, form.translated_body.data)
    elif valid:
        with refusals_shown_on(form, service.PolicyError):
            changes = service.save_terms(
                db.session,
                business,
                enabled=form.terms_enabled.data,
                body=form.body.data,
                translated_body=form.translated_body.data or "",
                actor=g.staff,
                now=utcnow(),
                origin=origin(),
            )
            flash(service.terms_saved_message(changes))
            return redirect(url_for("policies_admin.edit_terms"), 303)
    return _editor_page(
        "policies/admin_terms.html", form, previews, business=business, terms=current
    )


@blueprint.route("/cancellation-policy", methods=["GET", "POST"])
@writes
@owner_required
def edit_policy():
    business = staff_business()
    current = service.current_policy(db.session, business)
    form = PolicyForm.for_policy(business, current)
    previews, valid = [], form.validate_on_submit()
    if valid and form.previewing:
        with refusals_shown_on(form, service.PolicyError):
            previews = service.preview_policy(business, form.draft())
    elif valid:
        with refusals_shown_on(form, service.PolicyError):
            changes = service.save_policy(
                db.session,
                business,
                enabled=form.policy_enabled.data,
                draft=form.draft(),
                actor=g.staff,
                now=utcnow(),
                origin=origin(),
            )
            flash(service.policy_saved_message(changes))
            return redirect(url_for("policies_admin.edit_policy"), 303)
    return _editor_page(
        "policies/admin_policy.html",
        form,
        previews,
        business=business,
        policy=current,
        rules=service.rules_of(current),
    )


def _editor_page(template: str, form, previews: list, **context):
    """The editor; 200 with a preview (the input was fine), else as ``form_page`` says."""
    page, status = form_page(template, form=form, previews=previews, **context)
    return page, 200 if previews else status
