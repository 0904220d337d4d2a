"""Staff pages for bookings: dashboard, day and week views, a booking, staff actions."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required, staff_required
from portal.booking import mailing
from portal.booking import service as booking_service
from portal.booking.availability import BookingWindow
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.extensions import db
from portal.hipaa.guards import record_client_view
from portal.schedule import forms
from portal.schedule import service as schedule
from portal.schedule.chart import day_label, weekly_chart
from portal.staff.guards import pending_step_redirect
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l

blueprint = Blueprint("schedule", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)

NO_SUCH_BOOKING = _l("There is no such booking at this business.")
#: Calendar dates outside these years are typing mistakes (and overflow near the edges).
FIRST_YEAR, LAST_YEAR = 1970, 2999
#: The days heading the week view's columns ("Mon 02 Mar").
WEEK_COLUMN_PATTERNS = {"en": "EEE dd MMM", "de": "EEE, d. MMM"}


def _business() -> Business:
    return db.session.get(Business, g.staff.business_id)


def _booking_or_404(booking_id: int):
    booking = schedule.find_booking(db.session, g.staff.business_id, booking_id)
    if booking is None:
        abort(404, description=NO_SUCH_BOOKING)
    return booking


def render_dashboard():
    """The staff home page (served as ``staff.dashboard``)."""
    business = _business()
    board = schedule.dashboard(db.session, business, utcnow())
    return render_template(
        "schedule/dashboard.html",
        business=business,
        user=g.staff,
        board=board,
        chart=weekly_chart(board.weeks),
        form=forms.DeclineForm(),
    )


# Day and week views ----------------------------------------------------------


def _calendar_args(business: Business):
    view = request.args.get("view") or schedule.DAY
    if view not in schedule.VIEWS:
        abort(400, description=_("Choose the day or the week view."))
    raw_day = request.args.get("date") or ""
    if not raw_day:
        day = business.local(utcnow()).date()
    else:
        try:
            day = date.fromisoformat(raw_day) if len(raw_day) == 10 else None
        except ValueError:
            day = None
        if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
            abort(400, description=_("That date is not valid. Use a date like 2026-03-02."))
    raw_provider = request.args.get("provider") or "all"
    provider = None
    if raw_provider != "all":
        if not (raw_provider.isascii() and raw_provider.isdigit()) or len(raw_provider) > 12:
            abort(
                400, description=_("That provider choice is not valid. Choose one from the list.")
            )
        provider = schedule.find_provider(db.session, business.id, int(raw_provider))
        if provider is None:
            abort(404, description=_("There is no such provider at this business."))
    return view, day, provider


@blueprint.get("/bookings")
@staff_required
def calendar():
    business = _business()
    view, day, provider = _calendar_args(business)
    cal = schedule.calendar(db.session, business, view, day, provider)
    return render_template(
        "schedule/calendar.html",
        business=business,
        cal=cal,
        day_labels=[day_label(d, WEEK_COLUMN_PATTERNS) for d in cal.days],
        provider=provider,
        providers=schedule.providers_of(db.session, business.id),
        today=business.local(utcnow()).date(),
    )


# One booking -------------------------------------------------------------------


def _render_booking(booking, *, status: int = 200, error: str | None = None, **form_overrides):
    business = _business()
    page_forms = {
        "cancel_form": forms.CancelForm(formdata=None),
        "decline_form": forms.DeclineForm(formdata=None),
        "action_form": EmptyForm(formdata=None),
    }
    page_forms.update(form_overrides)
    return render_template(
        "schedule/booking.html",
        business=business,
        booking=booking,
        events=schedule.booking_events(db.session, booking),
        now=utcnow(),
        error=error,
        **page_forms,
    ), status


@blueprint.get("/bookings/<int:booking_id>")
@staff_required
def show_booking(booking_id: int):
    booking = _booking_or_404(booking_id)
    record_client_view(booking.client)
    return _render_booking(booking)


def _back(booking, form) -> str:
    if form.return_to.data == "dashboard":
        return url_for("staff.dashboard")
    return url_for("schedule.show_booking", booking_id=booking.id)


def _refused(booking, error: schedule.ScheduleError):
    db.session.rollback()
    return _render_booking(booking, status=409, error=str(error))


@blueprint.post("/bookings/<int:booking_id>/cancel")
@staff_required
def cancel(booking_id: int):
    booking = _booking_or_404(booking_id)
    form = forms.CancelForm()
    if not form.validate_on_submit():
        return _render_booking(booking, status=422, cancel_form=form)
    try:
        schedule.cancel_by_staff(db.session, booking, g.staff, form.reason.data, utcnow(), origin())
    except schedule.ScheduleError as error:
        return _refused(booking, error)
    # Staff act, the client reads: mailing writes it in the business's language.
    mailing.send_cancellation(_business(), booking, None)
    db.commit()
    flash(_("The booking is cancelled and %(email)s is told why.", email=booking.client.email))
    return redirect(_back(booking, form), code=303)


@blueprint.post("/bookings/<int:booking_id>/approve")
@staff_required
def approve(booking_id: int):
    booking = _booking_or_404(booking_id)
    form = forms.ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        schedule.approve(db.session, booking, g.staff, utcnow(), origin())
    except schedule.ScheduleError as error:
        return _refused(booking, error)
    mailing.send_decision(_business(), booking)
    db.commit()
    flash(
        _(
            "The booking of %(name)s is confirmed; they have been e-mailed.",
            name=booking.client.name,
        )
    )
    return redirect(_back(booking, form), code=303)


@blueprint.post("/bookings/<int:booking_id>/decline")
@staff_required
def decline(booking_id: int):
    booking = _booking_or_404(booking_id)
    form = forms.DeclineForm()
    if not form.validate_on_submit():
        return _render_booking(booking, status=422, decline_form=form)
    try:
        schedule.decline(db.session, booking, g.staff, form.reason.data, utcnow(), origin())
    except schedule.ScheduleError as error:
        return _refused(booking, error)
    mailing.send_decision(_business(), booking)
    db.commit()
    flash(
        _(
            "The request of %(name)s is declined and the time is free again.",
            name=booking.client.name,
        )
    )
    return redirect(_back(booking, form), code=303)


@blueprint.post("/bookings/<int:booking_id>/no-show")
@staff_required
def mark_no_show(booking_id: int):
    booking = _booking_or_404(booking_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        schedule.mark_no_show(db.session, booking, g.staff, utcnow(), origin())
    except schedule.ScheduleError as error:
        return _refused(booking, error)
    db.commit()
    flash(_("Marked as a no-show."))
    return redirect(url_for("schedule.show_booking", booking_id=booking.id), code=303)


# Booking for a client ------------------------------------------------------------


@blueprint.route("/bookings/new", methods=["GET", "POST"])
@staff_required
def new_booking():
    business = _business()
    now = utcnow()
    search = forms.SlotSearchForm(
        request.args,
        services=schedule.services_of(db.session, business.id),
        providers=[p for p in schedule.providers_of(db.session, business.id) if p.active],
        window=BookingWindow.for_business(business, now),
    )
    searched = "service" in request.args and search.validate()
    slots = []
    if searched:
        slots = schedule.free_slots(
            db.session,
            business,
            search.chosen_service,
            search.chosen_provider,
            search.day.data,
            now,
        )
    form = forms.StaffBookingForm(slots=slots, business=business)
    if searched and form.validate_on_submit():
        return _book_for_client(business, search, form, now)
    failed = request.method == "POST" or ("service" in request.args and not searched)
    return _render_new(business, search, form, slots, searched, 422 if failed else 200)


def _book_for_client(business, search, form, now):
    details = booking_service.ClientDetails(form.name.data, form.email.data, form.phone.data)
    try:
        booking, token = schedule.book_for_client(
            db.session,
            business,
            search.chosen_service,
            search.chosen_provider,
            form.chosen_start,
            details,
            g.staff,
            now,
            origin(),
        )
    except (booking_service.SlotTaken, booking_service.SlotUnavailable):
        db.session.rollback()
        form.start.errors.append(_("That time was taken a moment ago. Please pick another."))
        slots = schedule.free_slots(
            db.session,
            business,
            search.chosen_service,
            search.chosen_provider,
            search.day.data,
            now,
        )
        form = _keep_input(form, slots, business)
        return _render_new(business, search, form, slots, True, 409)
    mailing.send_confirmation(business, booking, token)
    db.commit()
    flash(
        _(
            "Booked. %(email)s gets a confirmation with the link to manage it.",
            email=booking.client.email,
        )
    )
    return redirect(url_for("schedule.show_booking", booking_id=booking.id), code=303)


def _keep_input(form, slots, business):
    fresh = forms.StaffBookingForm(slots=slots, business=business)
    fresh.start.errors = form.start.errors
    return fresh


def _render_new(business, search, form, slots, searched, status):
    return render_template(
        "schedule/new_booking.html",
        business=business,
        search=search,
        form=form,
        slots=slots,
        searched=searched,
    ), status


# Owner settings ------------------------------------------------------------------


@blueprint.route("/booking-rules", methods=["GET", "POST"])
@owner_required
def booking_rules():
    business = _business()
    form = forms.BookingRulesForm(obj=business)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in schedule.BOOKING_RULES}
        changes = schedule.save_booking_rules(
            db.session, g.staff, business, values, utcnow(), origin()
        )
        db.commit()
        flash(_("Saved.") if changes else _("Nothing changed."))
        return redirect(url_for("schedule.booking_rules"), code=303)
    pending = len(schedule.pending_requests(db.session, business.id, utcnow()))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "schedule/booking_rules.html", business=business, form=form, pending=pending
    ), status
