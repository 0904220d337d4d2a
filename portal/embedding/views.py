"""The owner's embedding page: the allowlist, the iframe snippet and the plain link."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.embedding import service
from portal.embedding.forms import EmbeddingForm
from portal.extensions import db
from portal.staff.guards import pending_step_redirect

blueprint = Blueprint("embedding", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)


@blueprint.route("/embedding", methods=["GET", "POST"])
@owner_required
def settings():
    business = db.session.get(Business, g.staff.business_id)
    form = EmbeddingForm(obj=business)
    if form.validate_on_submit():
        changes = service.save_origins(
            db.session, business, g.staff, form.origins, utcnow(), origin()
        )
        db.commit()
        flash(_("Saved the list of sites.") if changes else _("Nothing changed."))
        return redirect(url_for("embedding.settings"), code=303)
    base_url = current_app.config["BASE_URL"]
    return render_template(
        "embedding/settings.html",
        business=business,
        form=form,
        origins=service.allowed_origins(business),
        snippet=service.iframe_snippet(base_url, business),
        public_url=service.public_url(base_url, business),
        embed_url=service.embed_url(base_url, business),
    ), (422 if request.method == "POST" else 200)
