"""The client's booking flow: services, slots, details, manage and cancel."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.accounts.current import signed_in_client
from portal.accounts.service import accounts_enabled
from portal.booking import mailing, reminders
from portal.booking import service as booking_service
from portal.booking.forms import CancelForm
from portal.booking.notifications import calendar_file
from portal.booking.pages import (
    DETAILS,
    DONE,
    INVALID_LINK,
    BookingRequest,
    MoveRequest,
    cancel_page,
    manage_page,
    picker_from_request,
    refused_page,
    short_datetime,
)
from portal.booking.params import provider_choice, service_or_404
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import csrf, db, limiter
from portal.giftcards.service import GiftCardError
from portal.web.security import no_referrer
from portal.web.tenancy import bind_business, current_business

blueprint = Blueprint("booking", __name__, url_prefix="/b/<slug>")
bind_business(blueprint)


def _booking_rate_limit() -> str:
    return current_app.config["BOOKING_RATE_LIMIT"]


@blueprint.get("/")
def list_services():
    business = current_business()
    return render_template(
        "booking/services.html",
        business=business,
        services=booking_service.bookable_services(db.session, business),
        accounts_enabled=accounts_enabled(db.session, business),
        account=signed_in_client(business),
    )


@blueprint.get("/services/<int:service_id>")
def choose_slot(service_id: int):
    business = current_business()
    service = service_or_404(db.session, business, service_id)
    providers = booking_service.bookable_providers(db.session, business, service)
    provider, provider_value = provider_choice(request.args.get("provider"), providers)
    picker = picker_from_request(db.session, business, service, provider, providers, utcnow())
    return render_template(
        "booking/choose_slot.html",
        business=business,
        service=service,
        providers=providers,
        provider=provider,
        provider_value=provider_value,
        picker=picker,
    )


@blueprint.get("/services/<int:service_id>/book")
def confirm(service_id: int):
    booking_request = BookingRequest.from_request(db.session, current_business(), service_id)
    booking_request.ensure_bookable()
    return render_template(DETAILS, **booking_request.page())


@blueprint.post("/services/<int:service_id>/book")
@writes
@limiter.limit(_booking_rate_limit)
def book(service_id: int):
    booking_request = BookingRequest.from_request(db.session, current_business(), service_id)
    if not booking_request.form.validate():
        return render_template(DETAILS, **booking_request.page()), 422
    try:
        booking, token = booking_request.place()
    except (booking_service.BookingError, GiftCardError) as refusal:
        booking_request.refused(refusal)
    mailing.send_confirmation(booking_request.business, booking, token)
    return redirect(url_for("booking.manage", token=token, done=DONE.BOOKED), code=303)


@blueprint.get("/manage/<token>")
@no_referrer
def manage(token: str):
    business = current_business()
    booking = _managed_booking(business, token)
    return manage_page(business, booking, token, done=DONE.parse(request.args.get("done")))


@blueprint.get("/manage/<token>/cancel")
@no_referrer
def confirm_cancel(token: str):
    business, now = current_business(), utcnow()
    booking = _managed_booking(business, token, now)
    if not booking.is_active:
        return refused_page(business, booking, token, booking_service.AlreadyCancelled())
    if not booking.can_cancel(now):
        # Only the POST counts as a late attempt: a GET may come from a link preview.
        late = booking_service.CancellationTooLate(booking.cancel_deadline())
        return refused_page(business, booking, token, late)
    return cancel_page(business, booking, token, CancelForm(), now)


@blueprint.post("/manage/<token>/cancel")
@writes
@no_referrer
@limiter.limit(_booking_rate_limit)
def cancel(token: str):
    business, now = current_business(), utcnow()
    booking = _managed_booking(business, token, now)
    form = CancelForm()
    if not form.validate():
        return cancel_page(business, booking, token, form, now), 422
    try:
        booking_service.cancel_by_client(db.session, booking, now, form.reason.data)
    except booking_service.BookingError as refusal:
        return refused_page(business, booking, token, refusal)
    mailing.send_cancellation(business, booking, mailing.manage_url(token))
    return redirect(url_for("booking.manage", token=token, done=DONE.CANCELLED), code=303)


@blueprint.get("/manage/<token>/reschedule")
@no_referrer
def reschedule(token: str):
    business, now = current_business(), utcnow()
    move = MoveRequest.from_request(db.session, business, _managed_booking(business, token, now))
    if not move.booking.is_active:
        return refused_page(business, move.booking, token, booking_service.AlreadyCancelled())
    if not move.booking.can_reschedule(now):
        # Only the POST counts as an attempt: a GET may come from a link preview.
        late = booking_service.RescheduleTooLate(move.booking.reschedule_deadline())
        return refused_page(business, move.booking, token, late)
    if request.args.get("start"):
        return render_template("booking/reschedule.html", **move.confirmation_page(token, now))
    return render_template("booking/reschedule.html", **move.calendar_page(token, now))


@blueprint.post("/manage/<token>/reschedule")
@writes
@no_referrer
@limiter.limit(_booking_rate_limit)
def move_booking(token: str):
    business, now = current_business(), utcnow()
    move = MoveRequest.from_request(db.session, business, _managed_booking(business, token, now))
    try:
        move.place(now)
    except booking_service.BookingError as refusal:
        return move.refused(refusal, token)
    mailing.send_rescheduled(business, move.booking, token)
    return redirect(url_for("booking.manage", token=token, done=DONE.RESCHEDULED), code=303)


def _managed_booking(business, token: str, now=None):
    booking = booking_service.find_booking_by_token(db.session, business, token, now or utcnow())
    if booking is None:
        abort(404, description=INVALID_LINK)
    return booking


# Reminders: the manage page's switch, and the one-click address in each reminder.


@blueprint.app_template_filter("short_datetime")
def _short_datetime(instant, business) -> str:
    return short_datetime(instant, business)


@blueprint.app_template_global("reminder_switch_shown")
def _reminder_switch_shown(business, booking, now) -> bool:
    return reminders.switch_shown(business, booking, now)


@blueprint.post("/manage/<token>/reminders")
@writes
@no_referrer
@limiter.limit(_booking_rate_limit)
def switch_reminders(token: str):
    booking = _managed_booking(current_business(), token)
    try:
        reminders.switch_reminders(booking, reminders.parse_switch(request.form.get("reminders")))
    except ValueError:
        abort(400, description=_("Choose whether you want reminders: on or off."))
    return redirect(url_for("booking.manage", token=token, _anchor="reminders"), code=303)


def _one_click(view):
    """RFC 8058: the mail provider posts without cookies, so without a CSRF token; the
    manage token in the address is the credential. The address is a secret: no referrer."""
    view.referrer_policy = "no-referrer"
    return csrf.exempt(view)


@blueprint.get("/manage/<token>/unsubscribe")
@no_referrer
def unsubscribe_page(token: str):
    business = current_business()
    booking = _managed_booking(business, token)
    return render_template("booking/unsubscribe.html", business=business, booking=booking)


@blueprint.post("/manage/<token>/unsubscribe")
@writes
@_one_click
@limiter.limit(_booking_rate_limit)
def unsubscribe(token: str):
    if request.form.get("List-Unsubscribe") != "One-Click":
        abort(400, description=_("To switch reminders off, use the button on this page."))
    business = current_business()
    booking = _managed_booking(business, token)
    reminders.switch_reminders(booking, on=False)
    return render_template("booking/unsubscribe.html", business=business, booking=booking)


# "Add to calendar" in the booking e-mails: the booking's .ics, as the e-mails attach it.


@blueprint.get("/manage/<token>/booking.ics")
@no_referrer
def calendar_download(token: str):
    business = current_business()
    booking = _managed_booking(business, token)
    ics = calendar_file(
        business, booking, mailing.manage_url(token), cancelled=not booking.is_active
    )
    return current_app.response_class(
        ics,
        content_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="booking.ics"'},
    )
