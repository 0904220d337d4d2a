"""The client's booking flow: services, slots, details, manage and cancel."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from portal import features
from portal.accounts.clients import accounts_enabled, client_of
from portal.accounts.current import signed_in_client
from portal.booking import mailing
from portal.booking import service as booking_service
from portal.booking.availability import (
    BookingWindow,
    calendar,
    free_slots,
    slots_on,
)
from portal.booking.forms import BookingDetailsForm
from portal.booking.models import LATE_CANCEL_REFUSED, LATE_RESCHEDULE_REFUSED
from portal.booking.params import parse_day, parse_start, provider_choice, service_or_404
from portal.catalog.models import Service
from portal.clients.service import blocked_client, note_client_event
from portal.clock import utcnow
from portal.extensions import db, limiter
from portal.giftcards import service as giftcards
from portal.policies.service import current_policy, current_terms
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l
from portal.web.security import no_referrer
from portal.web.tenancy import bind_business, current_business

log = logging.getLogger(__name__)
blueprint = Blueprint("booking", __name__, url_prefix="/b/<slug>")
bind_business(blueprint)

INVALID_LINK = _l(
    "This link is not valid or has expired. Links to a booking stop working once the "
    "appointment is over; check the latest e-mail from the business."
)


def _booking_rate_limit() -> str:
    return current_app.config["BOOKING_RATE_LIMIT"]


def _too_far_ahead(business) -> str:
    return ngettext(
        "Bookings open %(num)d day ahead. Please pick an earlier day.",
        "Bookings open %(num)d days ahead. Please pick an earlier day.",
        business.max_days_ahead,
    )


@blueprint.get("/")
def list_services():
    business = current_business()
    services = db.session.scalars(
        select(Service)
        .where(Service.business_id == business.id, Service.active)
        .order_by(Service.position, Service.name)
    ).all()
    return render_template(
        "booking/services.html",
        business=business,
        services=services,
        accounts_enabled=accounts_enabled(db.session, business),
        account=signed_in_client(business),
    )


@blueprint.get("/services/<int:service_id>")
def choose_slot(service_id: int):
    business = current_business()
    service = service_or_404(db.session, business, service_id)
    providers = booking_service.bookable_providers(db.session, business, service)
    provider, provider_value = provider_choice(request.args.get("provider"), providers)
    now = utcnow()
    window = BookingWindow.for_business(business, now)
    day = parse_day(request.args.get("day"))
    if day is not None and day < window.first_day:
        abort(
            400, description=_("That day has passed or is too soon to book. Please pick another.")
        )
    if day is not None and day > window.last_day:
        abort(400, description=_too_far_ahead(business))
    chosen = [provider] if provider else providers
    free_days, day, slots = calendar(db.session, business, service, chosen, now, day)
    return render_template(
        "booking/choose_slot.html",
        business=business,
        service=service,
        providers=providers,
        provider=provider,
        provider_value=provider_value,
        window=window,
        slots_by_day=free_days,
        day=day,
        slots=slots,
    )


@blueprint.route("/services/<int:service_id>/book", methods=["GET", "POST"])
@limiter.limit(_booking_rate_limit, methods=["POST"])
def confirm(service_id: int):
    business = current_business()
    service = service_or_404(db.session, business, service_id)
    providers = booking_service.bookable_providers(db.session, business, service)
    provider, provider_value = provider_choice(request.args.get("provider"), providers)
    start = parse_start(request.args.get("start"))
    now = utcnow()
    terms = current_terms(db.session, business) if business.terms_enabled else None
    policy = current_policy(db.session, business) if business.cancellation_policy_enabled else None
    account = signed_in_client(business)
    account_client = client_of(db.session, account) if account is not None else None
    form = BookingDetailsForm(
        terms_required=terms is not None,
        policy_required=policy is not None,
        account_client=account_client,
    )
    context = dict(
        business=business,
        service=service,
        provider=provider,
        provider_value=provider_value,
        start=start,
        terms=terms,
        policy=policy,
        form=form,
        account=account,
        gift_cards=features.is_on(db.session, business.id, features.GIFT_CARDS),
    )
    if request.method == "GET":
        emails = [account.email, account_client.email] if account_client else []
        if account_client and blocked_client(db.session, business.id, emails, account_client):
            return _refusal(booking_service.ClientBlocked(business), 403)
        _ensure_slot_free(business, service, provider, providers, start, now)
        return render_template("booking/details.html", **context)
    if not form.validate():
        return render_template("booking/details.html", **context), 422

    details = booking_service.ClientDetails(form.name.data, form.email.data, form.phone.data)
    consents = booking_service.Consents(
        terms=terms if form.accept_terms.data else None,
        policy=policy if form.accept_policy.data else None,
        ip_address=request.remote_addr or "",
    )
    try:
        booking, token = booking_service.book(
            db.session,
            business,
            service,
            provider,
            start,
            details,
            consents,
            now,
            client=account_client,
        )
    except booking_service.SlotTaken:
        db.session.rollback()
        return _slot_taken_page(business, service, provider_value, start)
    except booking_service.SlotUnavailable:
        abort(400, description=_("That time cannot be booked. Please pick a time from the list."))
    except booking_service.ClientBlocked as refusal:
        db.session.rollback()
        return _refusal(refusal, 403)
    except booking_service.BookingLimitReached as refusal:
        # 409, not 429: waiting does not help; the bookings already held must change.
        db.session.rollback()
        return _refusal(refusal, 409)
    if context["gift_cards"] and (form.gift_card_code.data or "").strip():
        try:
            giftcards.redeem(db.session, business, booking, form.gift_card_code.data, now)
        except giftcards.GiftCardError as refused:
            db.session.rollback()
            form.gift_card_code.errors = [str(refused)]
            return render_template("booking/details.html", **context), 422
    db.commit()
    # The booking stands. Writing its e-mail (templates, the .ics) takes a third of
    # this request: done after the commit, it no longer holds up other bookings.
    db.read_from_now_on()
    try:
        mailing.send_confirmation(business, booking, token)
        db.commit()
    except Exception:
        # The client still reaches the manage page; the operator sees why no mail went.
        log.exception("could not write the confirmation of booking %s", booking.id)
        db.session.rollback()
    flash("confirmed")
    return redirect(url_for("booking.manage", token=token), code=303)


def _refusal(refusal: booking_service.BookingError, status: int):
    """The page for a booking the business's rules about this client refuse."""
    body = render_template(
        "errors/error.html",
        business=current_business(),
        status=status,
        title=_("Booking not possible online"),
        message=str(refusal),
    )
    return current_app.response_class(body, status=status)


def _ensure_slot_free(business, service, provider, providers, start, now) -> None:
    chosen = [provider] if provider else providers
    day = business.local(start).date()
    if any(
        slot.start == start for slot in slots_on(db.session, business, service, chosen, day, now)
    ):
        return
    offered = slots_on(db.session, business, service, chosen, day, now, include_bookings=False)
    if any(slot.start == start for slot in offered):
        abort(_slot_taken_page(business, service, request.args.get("provider", "any"), start))
    abort(400, description=_("That time cannot be booked. Please pick a time from the list."))


def _slot_taken_page(business, service, provider_value, start):
    body = render_template(
        "booking/slot_taken.html",
        business=business,
        service=service,
        provider_value=provider_value,
        start=start,
    )
    return current_app.response_class(body, status=409)


@blueprint.get("/manage/<token>")
@no_referrer
def manage(token: str):
    business = current_business()
    booking = booking_service.find_booking_by_token(db.session, business, token, utcnow())
    if booking is None:
        abort(404, description=INVALID_LINK)
    return _render_manage(business, booking, token)


@blueprint.post("/manage/<token>/cancel")
@no_referrer
@limiter.limit(_booking_rate_limit)
def cancel(token: str):
    business = current_business()
    now = utcnow()
    booking = booking_service.find_booking_by_token(db.session, business, token, now)
    if booking is None:
        abort(404, description=INVALID_LINK)
    try:
        booking_service.cancel_by_client(db.session, booking, now)
    except booking_service.CancellationTooLate:
        db.session.rollback()
        # Counted for the chart and the auto-block rule, which may block the client.
        note_client_event(
            db.session, business, booking.client_id, LATE_CANCEL_REFUSED, booking.id, now
        )
        db.commit()
        return _render_manage(business, booking, token, refused="late"), 409
    except booking_service.AlreadyCancelled:
        db.session.rollback()
        return _render_manage(business, booking, token, refused="already"), 409
    mailing.send_cancellation(business, booking, mailing.manage_url(token))
    db.commit()
    flash("cancelled")
    return redirect(url_for("booking.manage", token=token), code=303)


SAME_TIME = _l("Your booking is already at that time. Please pick another time from the list.")


@blueprint.get("/manage/<token>/reschedule")
@no_referrer
def reschedule(token: str):
    business = current_business()
    now = utcnow()
    booking = _managed_booking(business, token, now)
    if not booking.is_active:
        return _render_manage(business, booking, token, refused="already"), 409
    if not booking.can_reschedule(now):
        # Only the POST counts as an attempt: a GET may come from a link preview.
        return _render_manage(business, booking, token, refused="late_reschedule"), 409
    providers = booking_service.bookable_providers(db.session, business, booking.service)
    own = str(booking.provider_id) if booking.provider in providers else "any"
    provider, provider_value = provider_choice(request.args.get("provider", own), providers)
    chosen = [provider] if provider else providers
    context = dict(
        business=business,
        booking=booking,
        token=token,
        providers=providers,
        provider=provider,
        provider_value=provider_value,
        form=EmptyForm(),
    )
    if request.args.get("start"):
        start = parse_start(request.args.get("start"))
        picked = _ensure_new_time_free(business, booking, token, chosen, provider_value, start, now)
        return render_template(
            "booking/reschedule.html", start=start, chosen_provider=picked, **context
        )
    calendar = _new_time_calendar(business, booking, chosen, provider, now)
    return render_template("booking/reschedule.html", start=None, **calendar, **context)


@blueprint.post("/manage/<token>/reschedule")
@no_referrer
@limiter.limit(_booking_rate_limit)
def move_booking(token: str):
    business = current_business()
    now = utcnow()
    booking = _managed_booking(business, token, now)
    providers = booking_service.bookable_providers(db.session, business, booking.service)
    provider, provider_value = provider_choice(request.form.get("provider"), providers)
    start = parse_start(request.form.get("start"))
    try:
        booking_service.reschedule(db.session, booking, start, now, provider)
    except booking_service.RescheduleTooLate:
        db.session.rollback()
        note_client_event(
            db.session, business, booking.client_id, LATE_RESCHEDULE_REFUSED, booking.id, now
        )
        db.commit()
        return _render_manage(business, booking, token, refused="late_reschedule"), 409
    except booking_service.AlreadyCancelled:
        db.session.rollback()
        return _render_manage(business, booking, token, refused="already"), 409
    except booking_service.SlotTaken:
        db.session.rollback()
        return _reschedule_taken_page(business, booking, token, provider_value, start)
    except booking_service.SameTime:
        abort(400, description=SAME_TIME)
    except booking_service.SlotUnavailable:
        abort(400, description=_("That time cannot be booked. Please pick a time from the list."))
    mailing.send_rescheduled(business, booking, token)
    db.commit()
    flash("rescheduled")
    return redirect(url_for("booking.manage", token=token), code=303)


def _managed_booking(business, token: str, now):
    booking = booking_service.find_booking_by_token(db.session, business, token, now)
    if booking is None:
        abort(404, description=INVALID_LINK)
    return booking


def _day_in_window(business, window: BookingWindow, raw: str | None):
    day = parse_day(raw)
    if day is not None and day < window.first_day:
        abort(
            400, description=_("That day has passed or is too soon to book. Please pick another.")
        )
    if day is not None and day > window.last_day:
        abort(400, description=_too_far_ahead(business))
    return day


def _new_time_calendar(business, booking, chosen, provider, now) -> dict:
    """The days and free times the booking may move to, as the slot templates take them."""
    window = BookingWindow.for_business(business, now)
    day = _day_in_window(business, window, request.args.get("day"))
    slots_by_day = free_slots(
        db.session,
        business,
        booking.service,
        chosen,
        window.first_day,
        window.last_day,
        now,
        exclude_booking_id=booking.id,
    )
    slots_by_day = _without_current_time(slots_by_day, booking, provider)
    if day is None:
        day = min(slots_by_day, default=window.first_day)
    return dict(window=window, slots_by_day=slots_by_day, day=day, slots=slots_by_day.get(day, []))


def _without_current_time(slots_by_day, booking, provider):
    """Leave out the booking's own time: choosing it would change nothing."""
    if provider is not None and provider.id != booking.provider_id:
        return slots_by_day
    return {
        d: kept
        for d, slots in slots_by_day.items()
        if (kept := [slot for slot in slots if slot.start != booking.start_at])
    }


def _ensure_new_time_free(business, booking, token, chosen, provider_value, start, now):
    """The provider who would take the booking at ``start``; else a 409 or 400 page."""
    day = business.local(start).date()
    free = slots_on(
        db.session, business, booking.service, chosen, day, now, exclude_booking_id=booking.id
    )
    slot = next((slot for slot in free if slot.start == start), None)
    if slot is not None:
        own = booking.provider_id in slot.provider_ids
        if own and start == booking.start_at:
            abort(400, description=SAME_TIME)
        picked_id = booking.provider_id if own else slot.provider_ids[0]
        return next(p for p in chosen if p.id == picked_id)
    offered = slots_on(
        db.session, business, booking.service, chosen, day, now, include_bookings=False
    )
    if any(slot.start == start for slot in offered):
        abort(_reschedule_taken_page(business, booking, token, provider_value, start))
    abort(400, description=_("That time cannot be booked. Please pick a time from the list."))


def _reschedule_taken_page(business, booking, token, provider_value, start):
    body = render_template(
        "booking/reschedule_taken.html",
        business=business,
        booking=booking,
        token=token,
        provider_value=provider_value,
        start=start,
    )
    return current_app.response_class(body, status=409)


def _render_manage(business, booking, token, refused: str | None = None):
    return render_template(
        "booking/manage.html",
        business=business,
        booking=booking,
        token=token,
        form=EmptyForm(),
        now=utcnow(),
        refused=refused,
    )
