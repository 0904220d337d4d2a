"""The owner's Data page: export bookings, and the clean history setting."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.retention import export
from portal.retention import service as retention
from portal.retention.forms import CleanHistoryForm, ExportForm
from portal.staff.guards import pending_step_redirect

blueprint = Blueprint("retention", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)


def _business() -> Business:
    return db.session.get(Business, g.staff.business_id)


def _render(form, *, status=200, error=None, would_delete=None):
    business = _business()
    now = utcnow()
    return render_template(
        "retention/data.html",
        business=business,
        settings=retention.retention_settings(db.session, business.id),
        form=form,
        export_form=ExportForm(request.args),
        blockers=retention.history_blockers(db.session, business, now),
        due_now=retention.purgeable_total(db.session, business, now),
        would_delete=would_delete,
        error=error,
    ), status


def _refused(form, refused: retention.RetentionError):
    """A missing confirmation is the form's to show (422); any other refusal the page's (409)."""
    if isinstance(refused, retention.ConfirmationNeeded):
        form.show_problems(refused.problems)
        return _render(form, status=422, would_delete=refused.would_delete)
    return _render(form, status=409, error=str(refused))


@blueprint.get("/data")
@owner_required
def data_page():
    settings = retention.retention_settings(db.session, g.staff.business_id)
    return _render(CleanHistoryForm.showing(settings))


@blueprint.post("/data")
@writes
@owner_required
def save_clean_history():
    form = CleanHistoryForm()
    if not form.validate_on_submit():
        return _render(form, status=422)
    try:
        changes = retention.save_settings(
            db.session,
            _business(),
            g.staff,
            form.values(),
            utcnow(),
            origin(),
            password=form.password.data,
            typed_slug=form.confirm_slug.data,
        )
    except retention.RetentionError as refused:
        return _refused(form, refused)
    flash(_("Clean history settings saved.") if changes else _("Nothing changed."))
    return redirect(url_for("retention.data_page"), code=303)


@blueprint.get("/data/export.csv")
@owner_required
def export_csv():
    form = ExportForm(request.args)
    if not form.validate():
        abort(400, description=next(iter(form.errors.values()))[0])
    business, first, last = _business(), form.first.data, form.last.data
    staff, now, where = g.staff, utcnow(), origin()
    db.record(lambda session: export.record_export(session, staff, first, last, now, where))
    rows = export.booking_rows(db.reader, business, *export.local_range(business, first, last))
    return Response(
        stream_with_context(export.csv_chunks(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{business.slug}-bookings.csv"'},
    )
