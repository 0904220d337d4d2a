"""The owner's business set-up pages: settings, services, providers, hours, days off."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required
from portal.catalog import service as catalog
from portal.catalog.forms import (
    BusinessForm,
    DayOffForm,
    ProviderForm,
    ServiceForm,
    WeeklyHoursForm,
)
from portal.catalog.models import Provider, Service
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.staff.guards import pending_step_redirect
from portal.staff.pages import (
    form_page,
    owned_or_404,
    refusals_flashed,
    refusals_shown_on,
    require_button,
    staff_business,
)
from portal.web.formatting import long_date
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l
from portal.web.messages import saved_message

blueprint = Blueprint("catalog", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)

NO_DAY_OFF = _l("There is no such day off for this provider.")


# -- business settings -----------------------------------------------------------------


@blueprint.route("/business", methods=["GET", "POST"])
@writes
@owner_required
def business_settings():
    business = staff_business()
    form = BusinessForm.for_business(business)
    if form.validate_on_submit():
        with refusals_shown_on(form, catalog.CatalogError):
            changes = catalog.update_business(db.session, business, form.values(), _actor())
            flash(saved_message(changes))
            return redirect(url_for("catalog.business_settings"), 303)
    return form_page("catalog/business.html", business=business, form=form)


# -- services --------------------------------------------------------------------------


@blueprint.get("/services")
@owner_required
def list_services():
    services = catalog.all_services(db.session, g.staff.business_id)
    return render_template("catalog/services.html", business=staff_business(), services=services)


@blueprint.route("/services/new", methods=["GET", "POST"])
@writes
@owner_required
def add_service():
    business = staff_business()
    form = ServiceForm.for_service(db.session, business)
    if form.validate_on_submit():
        with refusals_shown_on(form, catalog.CatalogError):
            service = catalog.create_service(
                db.session, business, form.values(), _actor(), form.providers.data
            )
            flash(_("%(name)s is open for booking.", name=service.name))
            return redirect(url_for("catalog.list_services"), 303)
    return form_page("catalog/service.html", business=business, form=form, service=None)


@blueprint.route("/services/<int:service_id>", methods=["GET", "POST"])
@writes
@owner_required
def edit_service(service_id: int):
    business = staff_business()
    service = owned_or_404(Service, service_id, catalog.NO_SERVICE)
    form = ServiceForm.for_service(db.session, business, service)
    if form.validate_on_submit():
        with refusals_shown_on(form, catalog.CatalogError):
            changes = catalog.update_service(
                db.session, business, service, form.values(), _actor(), form.providers.data
            )
            flash(saved_message(changes, _("Saved %(name)s.", name=service.name)))
            return redirect(url_for("catalog.list_services"), 303)
    return form_page("catalog/service.html", business=business, form=form, service=service)


@blueprint.post("/services/<int:service_id>/delete")
@writes
@owner_required
def delete_service(service_id: int):
    business = staff_business()
    service = owned_or_404(Service, service_id, catalog.NO_SERVICE)
    require_button()
    form = ServiceForm.for_service(db.session, business, service)
    with refusals_shown_on(form, catalog.InUse):
        outcome = catalog.delete_service(db.session, business, service, _actor())
        flash(_gone_message(outcome, service.name, _service_archived))
        return redirect(url_for("catalog.list_services"), 303)
    return render_template(
        "catalog/service.html", business=business, form=form, service=service
    ), 409


@blueprint.post("/services/<int:service_id>/restore")
@writes
@owner_required
def restore_service(service_id: int):
    business = staff_business()
    service = owned_or_404(Service, service_id, catalog.NO_SERVICE)
    require_button()
    with refusals_flashed(catalog.CatalogError, category="error"):
        catalog.restore_service(db.session, business, service, _actor())
        flash(_("%(name)s is open for booking again.", name=service.name))
    return redirect(url_for("catalog.list_services"), 303)


# -- providers -------------------------------------------------------------------------


@blueprint.get("/providers")
@owner_required
def list_providers():
    providers = catalog.all_providers(db.session, g.staff.business_id)
    return render_template("catalog/providers.html", business=staff_business(), providers=providers)


@blueprint.route("/providers/new", methods=["GET", "POST"])
@writes
@owner_required
def add_provider():
    business = staff_business()
    form = ProviderForm.for_provider(db.session, business)
    if form.validate_on_submit():
        with refusals_shown_on(form, catalog.CatalogError):
            provider = catalog.create_provider(
                db.session,
                business,
                form.name.data,
                _actor(),
                form.services.data,
                staff_user_id=form.staff_user_id.data,
            )
            flash(_("%(name)s is added. Now set their weekly hours.", name=provider.name))
            return redirect(url_for("catalog.edit_hours", provider_id=provider.id), 303)
    return form_page("catalog/provider.html", business=business, form=form, provider=None)


@blueprint.route("/providers/<int:provider_id>", methods=["GET", "POST"])
@writes
@owner_required
def edit_provider(provider_id: int):
    business = staff_business()
    provider = owned_or_404(Provider, provider_id, catalog.NO_PROVIDER)
    form = ProviderForm.for_provider(db.session, business, provider)
    if form.validate_on_submit():
        with refusals_shown_on(form, catalog.CatalogError):
            changes = catalog.update_provider(
                db.session,
                business,
                provider,
                form.name.data,
                _actor(),
                form.services.data,
                staff_user_id=form.staff_user_id.data,
            )
            flash(saved_message(changes, _("Saved %(name)s.", name=provider.name)))
            return redirect(url_for("catalog.list_providers"), 303)
    return form_page("catalog/provider.html", business=business, form=form, provider=provider)


@blueprint.post("/providers/<int:provider_id>/delete")
@writes
@owner_required
def delete_provider(provider_id: int):
    business = staff_business()
    provider = owned_or_404(Provider, provider_id, catalog.NO_PROVIDER)
    require_button()
    form = ProviderForm.for_provider(db.session, business, provider)
    with refusals_shown_on(form, catalog.InUse):
        outcome = catalog.delete_provider(db.session, business, provider, _actor())
        flash(_gone_message(outcome, provider.name, _provider_archived))
        return redirect(url_for("catalog.list_providers"), 303)
    return render_template(
        "catalog/provider.html", business=business, form=form, provider=provider
    ), 409


@blueprint.post("/providers/<int:provider_id>/restore")
@writes
@owner_required
def restore_provider(provider_id: int):
    business = staff_business()
    provider = owned_or_404(Provider, provider_id, catalog.NO_PROVIDER)
    require_button()
    catalog.restore_provider(db.session, business, provider, _actor())
    flash(_("Clients can book %(name)s again.", name=provider.name))
    return redirect(url_for("catalog.list_providers"), 303)


@blueprint.route("/providers/<int:provider_id>/hours", methods=["GET", "POST"])
@writes
@owner_required
def edit_hours(provider_id: int):
    business = staff_business()
    provider = owned_or_404(Provider, provider_id, catalog.NO_PROVIDER)
    form = WeeklyHoursForm.for_provider(provider)
    if form.validate_on_submit():
        with refusals_shown_on(form, catalog.CatalogError):
            changes = catalog.set_weekly_hours(db.session, business, provider, form.hours, _actor())
            flash(
                saved_message(changes, _("Saved the weekly hours of %(name)s.", name=provider.name))
            )
            return redirect(url_for("catalog.edit_hours", provider_id=provider.id), 303)
    return form_page("catalog/hours.html", business=business, form=form, provider=provider)


@blueprint.route("/providers/<int:provider_id>/days-off", methods=["GET", "POST"])
@writes
@owner_required
def days_off(provider_id: int):
    business = staff_business()
    provider = owned_or_404(Provider, provider_id, catalog.NO_PROVIDER)
    form = DayOffForm()
    if form.validate_on_submit():
        with refusals_shown_on(form, catalog.CatalogError):
            day_off = catalog.add_day_off(
                db.session, business, provider, form.day.data, form.note.data, _actor()
            )
            flash(_("%(name)s is off on %(day)s.", name=provider.name, day=long_date(day_off.day)))
            return redirect(url_for("catalog.days_off", provider_id=provider.id), 303)
    return form_page(
        "catalog/days_off.html",
        business=business,
        form=form,
        provider=provider,
        upcoming=catalog.upcoming_days_off(business, provider, utcnow()),
        remove_form=EmptyForm(),
    )


@blueprint.post("/providers/<int:provider_id>/days-off/<int:day_off_id>/remove")
@writes
@owner_required
def remove_day_off(provider_id: int, day_off_id: int):
    business = staff_business()
    provider = owned_or_404(Provider, provider_id, catalog.NO_PROVIDER)
    day_off = catalog.find_day_off(db.session, provider, day_off_id) or abort(404, NO_DAY_OFF)
    require_button()
    catalog.remove_day_off(db.session, business, provider, day_off, _actor())
    flash(_("%(name)s works as usual on %(day)s.", name=provider.name, day=long_date(day_off.day)))
    return redirect(url_for("catalog.days_off", provider_id=provider.id), 303)


# -- helpers ---------------------------------------------------------------------------


def _actor() -> catalog.Actor:
    return catalog.Actor(g.staff, utcnow(), origin())


def _gone_message(outcome: str, name: str, archived) -> str:
    """What the owner reads after deleting a service or provider (``archived``: if it was kept)."""
    if outcome == catalog.ARCHIVED:
        return archived(name)
    return _("%(name)s is deleted.", name=name)


def _service_archived(name: str) -> str:
    return _(
        "%(name)s has past bookings, so it is archived: hidden from clients "
        "and kept for their history.",
        name=name,
    )


def _provider_archived(name: str) -> str:
    return _(
        "%(name)s has past bookings, so they are archived: clients can no longer "
        "book them, and their bookings stay in the history.",
        name=name,
    )
