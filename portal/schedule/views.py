"""Staff pages for bookings: day and week views, a booking, staff actions, booking rules.

The dashboard is the staff area's home page, ``staff.dashboard``.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required, staff_required
from portal.booking import mailing
from portal.booking import service as booking_service
from portal.clients import notes
from portal.clients.forms import NotesForm
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.hipaa.guards import record_client_view
from portal.schedule import calendar_page, forms, frontdesk, grid, pages
from portal.schedule import service as schedule
from portal.staff.guards import pending_step_redirect
from portal.staff.pages import form_page, require_button, staff_business
from portal.web.messages import saved, saved_message

blueprint = Blueprint("schedule", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)


# Day and week views ----------------------------------------------------------


@blueprint.get("/bookings")
@staff_required
def calendar():
    """The time grid of a day or week, or the week as a list (see ``portal.schedule.grid``)."""
    business, now = staff_business(), utcnow()
    query = calendar_page.parse(db.session, business, business.local(now).date())
    cal = grid.calendar_grid(db.session, business, query.view, query.day, query.provider, now)
    return calendar_page.render(business, query, cal, now)


@blueprint.post("/bookings/<int:booking_id>/arrived")
@writes
@staff_required
def mark_arrived(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    form = require_button(forms.ActionForm())
    try:
        schedule.mark_arrived(db.session, staff_business(), booking, g.staff, utcnow(), origin())
    except schedule.ScheduleError as error:
        return pages.render_booking(booking, status=409, error=str(error))
    flash(_("%(name)s is marked as arrived.", name=booking.client.name))
    return redirect(calendar_page.back_to(booking, form), code=303)


# One booking -------------------------------------------------------------------


@blueprint.get("/bookings/<int:booking_id>")
@staff_required
def show_booking(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    record_client_view(booking.client)
    notes.record_notes_view(booking)
    return pages.render_booking(booking)


@blueprint.post("/bookings/<int:booking_id>/notes")
@writes
@staff_required
def save_booking_notes(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    form = NotesForm()
    if not form.validate_on_submit():
        return pages.render_booking(booking, status=422, notes_form=form)
    notes.save_notes(db.session, booking, form.notes.data, g.staff, utcnow(), origin())
    flash(_("The internal note is saved."))
    return redirect(url_for("schedule.show_booking", booking_id=booking.id), code=303)


@blueprint.get("/bookings/<int:booking_id>/move")
@staff_required
def move_booking(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    return pages.MovePage.from_request(
        db.session, staff_business(), booking, g.staff, utcnow()
    ).render()


@blueprint.post("/bookings/<int:booking_id>/move")
@writes
@staff_required
def move(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    page = pages.MovePage.from_request(db.session, staff_business(), booking, g.staff, utcnow())
    if not (page.searched and page.form.validate_on_submit()):
        return page.render()
    try:
        page.move(db.session, g.staff, origin())
    except frontdesk.OverrideRefused as refusal:
        abort(403, description=str(refusal))
    except booking_service.SlotTaken:
        return page.render(409, error=str(forms.TIME_TAKEN))
    except frontdesk.BAD_TIME as refusal:
        return page.render(422, error=str(refusal))
    except frontdesk.FrontDeskError as refusal:
        return page.render(409, error=str(refusal))
    token = frontdesk.token_for_mail(booking)
    mailing.send_rescheduled(page.business, booking, token, by_staff=True)
    flash(pages.moved_message(booking, page.business))
    return redirect(url_for("schedule.show_booking", booking_id=booking.id), code=303)


@blueprint.post("/bookings/<int:booking_id>/cancel")
@writes
@staff_required
def cancel(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    form = forms.CancelForm()
    if not form.validate_on_submit():
        return pages.render_booking(booking, status=422, cancel_form=form)
    try:
        schedule.cancel_by_staff(db.session, booking, g.staff, form.reason.data, utcnow(), origin())
    except schedule.ScheduleError as error:
        return pages.render_booking(booking, status=409, error=str(error))
    # Staff act, the client reads: mailing writes it in the business's language.
    mailing.send_cancellation(staff_business(), booking, None)
    flash(_("The booking is cancelled and %(email)s is told why.", email=booking.client.email))
    return redirect(pages.back_to(booking, form), code=303)


@blueprint.post("/bookings/<int:booking_id>/approve")
@writes
@staff_required
def approve(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    form = require_button(forms.ActionForm())
    try:
        schedule.approve(db.session, booking, g.staff, utcnow(), origin())
    except schedule.ScheduleError as error:
        return pages.render_booking(booking, status=409, error=str(error))
    mailing.send_decision(staff_business(), booking)
    flash(
        _(
            "The booking of %(name)s is confirmed; they have been e-mailed.",
            name=booking.client.name,
        )
    )
    return redirect(pages.back_to(booking, form), code=303)


@blueprint.post("/bookings/<int:booking_id>/decline")
@writes
@staff_required
def decline(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    form = forms.DeclineForm()
    if not form.validate_on_submit():
        return pages.render_booking(booking, status=422, decline_form=form)
    try:
        schedule.decline(db.session, booking, g.staff, form.reason.data, utcnow(), origin())
    except schedule.ScheduleError as error:
        return pages.render_booking(booking, status=409, error=str(error))
    mailing.send_decision(staff_business(), booking)
    flash(
        _(
            "The request of %(name)s is declined and the time is free again.",
            name=booking.client.name,
        )
    )
    return redirect(pages.back_to(booking, form), code=303)


@blueprint.post("/bookings/<int:booking_id>/no-show")
@writes
@staff_required
def mark_no_show(booking_id: int):
    booking = pages.booking_or_404(booking_id)
    form = require_button(forms.ActionForm())
    try:
        schedule.mark_no_show(db.session, booking, g.staff, utcnow(), origin())
    except schedule.ScheduleError as error:
        return pages.render_booking(booking, status=409, error=str(error))
    flash(_("Marked as a no-show."))
    return redirect(calendar_page.back_to(booking, form), code=303)


# Booking for a client ------------------------------------------------------------


@blueprint.get("/bookings/new")
@staff_required
def new_booking():
    return pages.NewBooking.from_request(db.session, staff_business(), g.staff, utcnow()).render()


@blueprint.post("/bookings/new")
@writes
@staff_required
def book_for_client():
    page = pages.NewBooking.from_request(db.session, staff_business(), g.staff, utcnow())
    if not page.ready():
        return page.render()
    try:
        booking, token = page.book(db.session, g.staff, origin())
    except frontdesk.OverrideRefused as refusal:
        abort(403, description=str(refusal))
    except frontdesk.FrontDeskError as refusal:
        return page.render_taken(db.session, str(refusal), status=422)
    except schedule.TIME_GONE:
        return page.render_taken(db.session)
    mailing.send_confirmation(page.business, booking, token)
    flash(pages.booked_message(booking))
    return redirect(url_for("schedule.show_booking", booking_id=booking.id), code=303)


# Owner settings ------------------------------------------------------------------


@blueprint.route("/booking-rules", methods=["GET", "POST"])
@writes
@owner_required
def booking_rules():
    business = staff_business()
    form = forms.BookingRulesForm(obj=business)
    if form.validate_on_submit():
        changes = schedule.save_booking_rules(
            db.session, g.staff, business, form.values(), utcnow(), origin()
        )
        flash(saved_message(changes, saved()))
        return redirect(url_for("schedule.booking_rules"), code=303)
    pending = len(schedule.pending_requests(db.session, business.id, utcnow()))
    return form_page("schedule/booking_rules.html", business=business, form=form, pending=pending)
