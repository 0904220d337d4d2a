"""The owner's business set-up pages: settings, services, providers, hours, days off."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms import SelectChoice

from portal.accounts.current import origin, owner_required
from portal.booking.params import MAX_ID
from portal.businesses.models import Business
from portal.catalog import service as catalog
from portal.catalog.forms import (
    BusinessForm,
    DayOffForm,
    ProviderForm,
    ServiceForm,
    WeeklyHoursForm,
)
from portal.catalog.models import DayOff, Provider, Service
from portal.clock import utcnow
from portal.extensions import db
from portal.staff.guards import pending_step_redirect
from portal.web.formatting import long_date
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l

blueprint = Blueprint("catalog", __name__, url_prefix="/staff")

NO_SERVICE = _l("There is no such service at this business.")
NO_PROVIDER = _l("There is no such provider at this business.")


@blueprint.before_request
def _require_pending_steps():
    return pending_step_redirect()


# -- business settings -----------------------------------------------------------------


@blueprint.route("/business", methods=["GET", "POST"])
@owner_required
def business_settings():
    business = _business()
    form = BusinessForm(obj=business)
    if form.validate_on_submit():
        values = {field: getattr(form, field).data for field in catalog.BUSINESS_FIELDS}
        try:
            changes = catalog.update_business(db.session, business, values, _actor())
        except catalog.CatalogError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(
                _("Saved %(num)d change(s).", num=len(changes))
                if changes
                else _("Nothing changed.")
            )
            return redirect(url_for("catalog.business_settings"), 303)
    return _page("catalog/business.html", business=business, form=form, timezones=_timezones())


# -- services --------------------------------------------------------------------------


@blueprint.get("/services")
@owner_required
def list_services():
    services = db.session.scalars(
        select(Service)
        .where(Service.business_id == g.staff.business_id)
        .order_by(Service.active.desc(), Service.position, Service.name)
    ).all()
    return render_template("catalog/services.html", business=_business(), services=services)


@blueprint.route("/services/new", methods=["GET", "POST"])
@owner_required
def add_service():
    business = _business()
    form = _service_form(business)
    if form.validate_on_submit():
        try:
            service = catalog.create_service(
                db.session, business, _service_values(form), _actor(), form.providers.data
            )
        except catalog.CatalogError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(_("%(name)s is open for booking.", name=service.name))
            return redirect(url_for("catalog.list_services"), 303)
    return _page("catalog/service.html", business=business, form=form, service=None)


@blueprint.route("/services/<int:service_id>", methods=["GET", "POST"])
@owner_required
def edit_service(service_id: int):
    business = _business()
    service = _owned(Service, service_id, NO_SERVICE)
    form = _service_form(business, service)
    if form.validate_on_submit():
        try:
            changes = catalog.update_service(
                db.session, business, service, _service_values(form), _actor(), form.providers.data
            )
        except catalog.CatalogError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(_("Saved %(name)s.", name=service.name) if changes else _("Nothing changed."))
            return redirect(url_for("catalog.list_services"), 303)
    return _page("catalog/service.html", business=business, form=form, service=service)


@blueprint.post("/services/<int:service_id>/delete")
@owner_required
def delete_service(service_id: int):
    business = _business()
    service = _owned(Service, service_id, NO_SERVICE)
    name = service.name
    _check_button()
    try:
        outcome = catalog.delete_service(db.session, business, service, _actor())
    except catalog.InUse as error:
        db.session.rollback()
        form = _service_form(business, service)
        form.form_errors.append(str(error))
        return render_template(
            "catalog/service.html", business=business, form=form, service=service
        ), 409
    db.commit()
    if outcome == catalog.ARCHIVED:
        flash(
            _(
                "%(name)s has past bookings, so it is archived: hidden from clients "
                "and kept for their history.",
                name=name,
            )
        )
    else:
        flash(_("%(name)s is deleted.", name=name))
    return redirect(url_for("catalog.list_services"), 303)


@blueprint.post("/services/<int:service_id>/restore")
@owner_required
def restore_service(service_id: int):
    business = _business()
    service = _owned(Service, service_id, NO_SERVICE)
    _check_button()
    try:
        catalog.restore_service(db.session, business, service, _actor())
    except catalog.CatalogError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("catalog.list_services"), 303)
    db.commit()
    flash(_("%(name)s is open for booking again.", name=service.name))
    return redirect(url_for("catalog.list_services"), 303)


# -- providers -------------------------------------------------------------------------


@blueprint.get("/providers")
@owner_required
def list_providers():
    providers = db.session.scalars(
        select(Provider)
        .where(Provider.business_id == g.staff.business_id)
        .order_by(Provider.active.desc(), Provider.name)
    ).all()
    return render_template("catalog/providers.html", business=_business(), providers=providers)


@blueprint.route("/providers/new", methods=["GET", "POST"])
@owner_required
def add_provider():
    business = _business()
    form = _provider_form(business)
    if form.validate_on_submit():
        try:
            provider = catalog.create_provider(
                db.session, business, form.name.data, _actor(), form.services.data
            )
        except catalog.CatalogError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(_("%(name)s is added. Now set their weekly hours.", name=provider.name))
            return redirect(url_for("catalog.edit_hours", provider_id=provider.id), 303)
    return _page("catalog/provider.html", business=business, form=form, provider=None)


@blueprint.route("/providers/<int:provider_id>", methods=["GET", "POST"])
@owner_required
def edit_provider(provider_id: int):
    business = _business()
    provider = _owned(Provider, provider_id, NO_PROVIDER)
    form = _provider_form(business, provider)
    if form.validate_on_submit():
        try:
            changes = catalog.update_provider(
                db.session, business, provider, form.name.data, _actor(), form.services.data
            )
        except catalog.CatalogError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(_("Saved %(name)s.", name=provider.name) if changes else _("Nothing changed."))
            return redirect(url_for("catalog.list_providers"), 303)
    return _page("catalog/provider.html", business=business, form=form, provider=provider)


@blueprint.post("/providers/<int:provider_id>/delete")
@owner_required
def delete_provider(provider_id: int):
    business = _business()
    provider = _owned(Provider, provider_id, NO_PROVIDER)
    name = provider.name
    _check_button()
    try:
        outcome = catalog.delete_provider(db.session, business, provider, _actor())
    except catalog.InUse as error:
        db.session.rollback()
        form = _provider_form(business, provider)
        form.form_errors.append(str(error))
        return render_template(
            "catalog/provider.html", business=business, form=form, provider=provider
        ), 409
    db.commit()
    if outcome == catalog.ARCHIVED:
        flash(
            _(
                "%(name)s has past bookings, so they are archived: clients can no longer "
                "book them, and their bookings stay in the history.",
                name=name,
            )
        )
    else:
        flash(_("%(name)s is deleted.", name=name))
    return redirect(url_for("catalog.list_providers"), 303)


@blueprint.post("/providers/<int:provider_id>/restore")
@owner_required
def restore_provider(provider_id: int):
    business = _business()
    provider = _owned(Provider, provider_id, NO_PROVIDER)
    _check_button()
    catalog.restore_provider(db.session, business, provider, _actor())
    db.commit()
    flash(_("Clients can book %(name)s again.", name=provider.name))
    return redirect(url_for("catalog.list_providers"), 303)


@blueprint.route("/providers/<int:provider_id>/hours", methods=["GET", "POST"])
@owner_required
def edit_hours(provider_id: int):
    business = _business()
    provider = _owned(Provider, provider_id, NO_PROVIDER)
    form = WeeklyHoursForm.for_provider(provider)
    if form.validate_on_submit():
        try:
            changes = catalog.set_weekly_hours(db.session, business, provider, form.hours, _actor())
        except catalog.CatalogError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(
                _("Saved the weekly hours of %(name)s.", name=provider.name)
                if changes
                else _("Nothing changed.")
            )
            return redirect(url_for("catalog.edit_hours", provider_id=provider.id), 303)
    return _page("catalog/hours.html", business=business, form=form, provider=provider)


@blueprint.route("/providers/<int:provider_id>/days-off", methods=["GET", "POST"])
@owner_required
def days_off(provider_id: int):
    business = _business()
    provider = _owned(Provider, provider_id, NO_PROVIDER)
    form = DayOffForm()
    if form.validate_on_submit():
        try:
            day_off = catalog.add_day_off(
                db.session, business, provider, form.day.data, form.note.data, _actor()
            )
        except catalog.CatalogError as error:
            _refuse(form, error)
        else:
            db.commit()
            flash(_("%(name)s is off on %(day)s.", name=provider.name, day=long_date(day_off.day)))
            return redirect(url_for("catalog.days_off", provider_id=provider.id), 303)
    today = business.local(utcnow()).date()
    upcoming = [day_off for day_off in provider.days_off if day_off.day >= today]
    return _page(
        "catalog/days_off.html",
        business=business,
        form=form,
        provider=provider,
        upcoming=upcoming,
        remove_form=EmptyForm(),
    )


@blueprint.post("/providers/<int:provider_id>/days-off/<int:day_off_id>/remove")
@owner_required
def remove_day_off(provider_id: int, day_off_id: int):
    business = _business()
    provider = _owned(Provider, provider_id, NO_PROVIDER)
    day_off = db.session.get(DayOff, day_off_id) if day_off_id <= MAX_ID else None
    if day_off is None or day_off.provider_id != provider.id:
        abort(404, description=_("There is no such day off for this provider."))
    _check_button()
    day = day_off.day
    catalog.remove_day_off(db.session, business, provider, day_off, _actor())
    db.commit()
    flash(_("%(name)s works as usual on %(day)s.", name=provider.name, day=long_date(day)))
    return redirect(url_for("catalog.days_off", provider_id=provider.id), 303)


# -- helpers ---------------------------------------------------------------------------


def _business() -> Business:
    return db.session.get(Business, g.staff.business_id)


def _actor() -> catalog.Actor:
    return catalog.Actor(g.staff, utcnow(), origin())


def _owned(model, row_id: int, message: str):
    """The row of the signed-in user's business with this id, or a 404."""
    row = db.session.get(model, row_id) if row_id <= MAX_ID else None
    if row is None or row.business_id != g.staff.business_id:
        abort(404, description=message)
    return row


def _check_button() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400)


def _refuse(form, error: catalog.CatalogError) -> None:
    """Show a rule's refusal next to the field it concerns, or above the form."""
    db.session.rollback()
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors.append(str(error))
    else:
        form.form_errors.append(str(error))


def _page(template: str, **context):
    """Render a form page: 422 when a submitted form was refused."""
    status = 422 if request.method == "POST" else 200
    return render_template(template, **context), status


def _timezones() -> list[str]:
    return sorted(catalog.timezone_names())


def _service_form(business: Business, service: Service | None = None) -> ServiceForm:
    data = None
    if service is not None:
        data = {field: getattr(service, field) for field in catalog.SERVICE_FIELDS}
        data["providers"] = [p.id for p in service.providers if p.active]
    form = ServiceForm(data=data)
    form.providers.choices = [SelectChoice(p.id, p.name) for p in _active(Provider, business)]
    return form


def _service_values(form: ServiceForm) -> dict:
    return {field: getattr(form, field).data for field in catalog.SERVICE_FIELDS}


def _provider_form(business: Business, provider: Provider | None = None) -> ProviderForm:
    data = None
    if provider is not None:
        data = {"name": provider.name, "services": [s.id for s in provider.services if s.active]}
    form = ProviderForm(data=data)
    form.services.choices = [SelectChoice(s.id, s.name) for s in _active(Service, business)]
    return form


def _active(model, business: Business) -> list:
    return list(
        db.session.scalars(
            select(model).where(model.business_id == business.id, model.active).order_by(model.name)
        )
    )
