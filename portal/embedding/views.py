"""The owner's embedding page: the allowlist, the iframe snippet and the plain link."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required
from portal.clock import utcnow
from portal.db import writes
from portal.embedding import service
from portal.embedding.forms import EmbeddingForm
from portal.extensions import db
from portal.staff.guards import pending_step_redirect
from portal.staff.pages import form_page, staff_business
from portal.web.messages import saved_message

blueprint = Blueprint("embedding", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)


@blueprint.route("/embedding", methods=["GET", "POST"])
@writes
@owner_required
def settings():
    business = staff_business()
    form = EmbeddingForm(obj=business)
    if form.validate_on_submit():
        changes = service.save_origins(
            db.session, business, g.staff, form.origins, utcnow(), origin()
        )
        flash(saved_message(changes, _("Saved the list of sites.")))
        return redirect(url_for("embedding.settings"), code=303)
    base_url = current_app.config["BASE_URL"]
    return form_page(
        "embedding/settings.html",
        business=business,
        form=form,
        origins=service.allowed_origins(business),
        snippet=service.iframe_snippet(base_url, business),
        public_url=service.public_url(base_url, business),
        embed_url=service.embed_url(base_url, business),
    )
