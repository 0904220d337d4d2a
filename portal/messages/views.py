"""The owner's failed-messages page: what could not be delivered, and a button to send it again."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.messages import service as messages
from portal.staff.guards import pending_step_redirect
from portal.staff.pages import require_button, staff_business
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l

blueprint = Blueprint("messages", __name__, url_prefix="/staff/messages")
blueprint.before_request(pending_step_redirect)

NO_MESSAGE = _l("There is no such failed message at this business.")


@blueprint.get("/")
@owner_required
def failed():
    business = staff_business()
    return render_template(
        "messages/failed.html",
        business=business,
        page=messages.failed_page(db.session, business.id),
        describe=messages.describe,
        form=EmptyForm(),
    )


@blueprint.post("/<int:message_id>/resend")
@writes
@owner_required
def resend(message_id: int):
    require_button()
    message = messages.resend(
        db.session, g.staff.business_id, message_id, g.staff, utcnow(), origin()
    )
    if message is None:
        abort(404, description=NO_MESSAGE)
    flash(_("Queued again: %(recipient)s.", recipient=message.recipient))
    return redirect(url_for("messages.failed"), 303)
