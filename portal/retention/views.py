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
from portal.audit import service as audit
from portal.businesses.models import Business
from portal.clock import utcnow
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
    settings = retention.settings_for(db.session, business.id)
    return render_template(
        "retention/data.html",
        business=business,
        settings=settings,
        form=form,
        export_form=ExportForm(request.args),
        blockers=retention.history_blockers(db.session, business, now),
        due_now=retention.purgeable_total(db.session, business, now),
        would_delete=would_delete,
        error=error,
    ), status


@blueprint.get("/data")
@owner_required
def data_page():
    settings = retention.settings_for(db.session, g.staff.business_id)
    form = CleanHistoryForm(
        formdata=None,
        enabled="on" if settings.enabled else "off",
        period_amount=settings.period_amount,
        period_unit=settings.period_unit,
        delete_orphan_clients=settings.delete_orphan_clients,
    )
    return _render(form)


@blueprint.post("/data")
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
    except retention.ConfirmationNeeded as needed:
        db.session.rollback()
        for name, message in needed.problems.items():
            form[name].errors = [message]
        return _render(form, status=422, would_delete=needed.would_delete)
    except retention.RetentionError as refused:
        db.session.rollback()
        return _render(form, status=409, error=str(refused))
    db.commit()
    flash(_("Clean history settings saved.") if changes else _("Nothing changed."))
    return redirect(url_for("retention.data_page"), code=303)


@blueprint.get("/data/export.csv")
@owner_required
def export_csv():
    form = ExportForm(request.args)
    if not form.validate():
        abort(400, description=next(iter(form.errors.values()))[0])
    business = _business()
    start, end = export.local_range(business, form.first.data, form.last.data)
    # A GET holds no write lock: the audit event goes in its own short transaction.
    with db.writer() as writer, writer.begin():
        audit.record(
            writer,
            audit.DATA_EXPORTED,
            utcnow(),
            business_id=business.id,
            actor=g.staff,
            origin=origin(),
            what="bookings",
            first=form.first.data.isoformat() if form.first.data else None,
            last=form.last.data.isoformat() if form.last.data else None,
        )
    rows = export.booking_rows(db.reader, business, start, end)
    filename = f"{business.slug}-bookings.csv"
    return Response(
        stream_with_context(export.csv_chunks(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
