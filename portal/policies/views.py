"""Public pages showing the current terms and cancellation policy."""

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _

from portal.extensions import db
from portal.policies.rich_text import rich_text
from portal.policies.service import current_policy, current_terms, rules_of
from portal.policies.summary import policy_summary
from portal.web.tenancy import bind_business, current_business

blueprint = Blueprint("policies", __name__, url_prefix="/b/<slug>")
bind_business(blueprint)
blueprint.add_app_template_filter(rich_text, "rich_text")
blueprint.add_app_template_filter(policy_summary, "policy_summary")


@blueprint.get("/terms")
def terms():
    business = current_business()
    version = current_terms(db.session, business)
    if not business.terms_enabled or version is None:
        abort(
            404,
            description=_(
                "%(business)s has not published terms and conditions.", business=business.name
            ),
        )
    return render_template("policies/terms.html", business=business, terms=version)


@blueprint.get("/cancellation-policy")
def cancellation_policy():
    business = current_business()
    version = current_policy(db.session, business)
    if not business.cancellation_policy_enabled or version is None:
        abort(
            404,
            description=_(
                "%(business)s has not published a cancellation policy.", business=business.name
            ),
        )
    return render_template(
        "policies/cancellation_policy.html",
        business=business,
        policy=version,
        rules=rules_of(version),
    )
