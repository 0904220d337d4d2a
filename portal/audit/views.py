"""The owner's audit log export (the log itself is the staff area's ``staff.audit_log``)."""

from __future__ import annotations

from flask import Blueprint, Response, g

from portal.accounts.current import origin, owner_required
from portal.audit import export
from portal.audit.filters import parse_filter
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.extensions import db
from portal.staff.guards import pending_step_redirect

blueprint = Blueprint("audit", __name__, url_prefix="/staff/audit")
blueprint.before_request(pending_step_redirect)


@blueprint.get("/export.csv")
@owner_required
def export_csv():
    business = db.session.get(Business, g.staff.business_id)
    chosen = parse_filter()
    text, count = export.events_csv(db.session, business, chosen)
    staff, now, where = g.staff, utcnow(), origin()
    db.record(lambda session: export.record_export(session, staff, chosen, count, now, where))
    return Response(
        text,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{business.slug}.csv"',
            "Cache-Control": "no-store",
        },
    )
