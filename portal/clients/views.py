"""Staff pages for clients: the list with search, a client's page, block and unblock."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from portal.accounts.current import origin, owner_required, staff_required
from portal.businesses.models import Business
from portal.clients import notes, rights
from portal.clients import service as clients
from portal.clients.forms import BlockForm, EraseClientForm, NotesForm, SearchForm
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.hipaa.guards import record_client_view
from portal.staff.guards import pending_step_redirect
from portal.web.forms import EmptyForm, form_status
from portal.web.lazy_text import lazy_text as _l

blueprint = Blueprint("clients", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)

NO_SUCH_CLIENT = _l("There is no such client at this business.")
#: More pages than this are typing mistakes.
MAX_PAGE = 100_000


def _business() -> Business:
    return db.session.get(Business, g.staff.business_id)


def _page_number() -> int:
    raw = request.args.get("page") or "1"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, description=_("That page number is not valid. Use a whole number from 1."))
    return int(raw)


def _client_or_404(client_id: int):
    client = clients.find_client(db.session, g.staff.business_id, client_id)
    if client is None:
        abort(404, description=NO_SUCH_CLIENT)
    return client


@blueprint.get("/clients")
@staff_required
def list_clients():
    form = SearchForm(request.args)
    if not form.validate():
        abort(400, description=form.q.errors[0])
    page = _page_number()
    result = clients.search_clients(db.session, g.staff.business_id, form.q.data or "", page)
    if page > result.pages:
        abort(
            404,
            description=ngettext(
                "There is no page %(page)d; the list has %(num)d.",
                "There is no page %(page)d; the list has %(num)d.",
                result.pages,
                page=page,
            ),
        )
    return render_template("clients/list.html", business=_business(), form=form, result=result)


def _render_client(
    client, *, status: int = 200, error: str | None = None, block_form=None, notes_form=None
):
    return render_template(
        "clients/client.html",
        business=_business(),
        client=client,
        overview=clients.client_overview(db.session, client),
        block_form=block_form or BlockForm(formdata=None),
        notes_form=notes_form or NotesForm(formdata=None, notes=client.staff_notes),
        unblock_form=EmptyForm(formdata=None),
        error=error,
    ), status


@blueprint.get("/clients/<int:client_id>")
@staff_required
def show_client(client_id: int):
    client = _client_or_404(client_id)
    record_client_view(client)
    notes.record_notes_view(client)
    return _render_client(client)


@blueprint.post("/clients/<int:client_id>/notes")
@writes
@staff_required
def save_notes(client_id: int):
    client = _client_or_404(client_id)
    form = NotesForm()
    if not form.validate_on_submit():
        return _render_client(client, status=422, notes_form=form)
    notes.save_notes(db.session, client, form.notes.data, g.staff, utcnow(), origin())
    flash(_("The internal note is saved."))
    return redirect(url_for("clients.show_client", client_id=client.id), code=303)


@blueprint.post("/clients/<int:client_id>/block")
@writes
@staff_required
def block(client_id: int):
    client = _client_or_404(client_id)
    form = BlockForm()
    if not form.validate_on_submit():
        return _render_client(client, status=422, block_form=form)
    try:
        clients.block_client(db.session, client, g.staff, form.reason.data, utcnow(), origin())
    except clients.ClientError as error:
        return _render_client(client, status=409, error=str(error))
    flash(
        _(
            "%(name)s is blocked: they are asked to contact you instead of booking online.",
            name=client.name,
        )
    )
    return redirect(url_for("clients.show_client", client_id=client.id), code=303)


@blueprint.post("/clients/<int:client_id>/unblock")
@writes
@staff_required
def unblock(client_id: int):
    client = _client_or_404(client_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        clients.unblock_client(db.session, client, g.staff, utcnow(), origin())
    except clients.ClientError as error:
        return _render_client(client, status=409, error=str(error))
    flash(_("%(name)s is unblocked and can book online again.", name=client.name))
    return redirect(url_for("clients.show_client", client_id=client.id), code=303)


@blueprint.get("/clients/<int:client_id>/data.json")
@staff_required
def download_client_data(client_id: int):
    client = _client_or_404(client_id)
    data = rights.client_data(db.session, client)
    staff, now, where = g.staff, utcnow(), origin()
    db.record(lambda session: rights.record_export(session, client, staff, now, where))
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="client-{client.id}.json"'},
    )


@blueprint.route("/clients/<int:client_id>/erase", methods=["GET", "POST"])
@writes
@owner_required
def erase_client(client_id: int):
    client = _client_or_404(client_id)
    form = EraseClientForm(staff=g.staff)
    if not form.validate_on_submit():
        page = render_template("clients/erase.html", business=_business(), client=client, form=form)
        return page, form_status(form)
    rights.erase_client(db.session, client, g.staff, utcnow(), origin())
    flash(_("The client's personal data was erased."))
    return redirect(url_for("clients.list_clients"), code=303)
