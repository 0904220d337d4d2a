"""What the staff booking pages ask for, checked, and what they render.

The views stay a few lines long: they read the URL through here, call the
schedule domain, and render a page from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import abort, g, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.booking.availability import BookingWindow, Slot
from portal.booking.service import bookable_services
from portal.businesses.models import Business
from portal.catalog.models import Provider
from portal.catalog.service import NO_PROVIDER, active_rows
from portal.clock import utcnow
from portal.extensions import db
from portal.schedule import forms
from portal.schedule import service as schedule
from portal.schedule.chart import day_label
from portal.staff.pages import staff_business
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l

NO_SUCH_BOOKING = _l("There is no such booking at this business.")
#: Calendar dates outside these years are typing mistakes (and overflow near the edges).
FIRST_YEAR, LAST_YEAR = 1970, 2999
#: The days heading the week view's columns ("Mon 02 Mar").
WEEK_COLUMN_PATTERNS = {"en": "EEE dd MMM", "de": "EEE, d. MMM"}


# Day and week views ----------------------------------------------------------


def calendar_args(session: Session, business: Business) -> tuple[str, date, Provider | None]:
    """The view, day and provider the query string asks for; 400 or 404 with a message."""
    view = request.args.get("view") or schedule.DAY
    if view not in schedule.VIEWS:
        abort(400, description=_("Choose the day or the week view."))
    return view, _day(business), _provider(session, business)


def _day(business: Business) -> date:
    raw = request.args.get("date") or ""
    if not raw:
        return business.local(utcnow()).date()
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        abort(400, description=_("That date is not valid. Use a date like 2026-03-02."))
    return day


def _provider(session: Session, business: Business) -> Provider | None:
    raw = request.args.get("provider") or "all"
    if raw == "all":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        abort(400, description=_("That provider choice is not valid. Choose one from the list."))
    provider = schedule.find_provider(session, business.id, int(raw))
    if provider is None:
        abort(404, description=NO_PROVIDER)
    return provider


def day_labels(cal: schedule.Calendar) -> list[str]:
    """The headings of the calendar's day columns."""
    return [day_label(day, WEEK_COLUMN_PATTERNS) for day in cal.days]


# One booking -------------------------------------------------------------------


def booking_or_404(booking_id: int):
    """The booking of the signed-in user's business, or a 404."""
    booking = schedule.find_booking(db.session, g.staff.business_id, booking_id)
    if booking is None:
        abort(404, description=NO_SUCH_BOOKING)
    return booking


def render_booking(booking, *, status: int = 200, error: str | None = None, **form_overrides):
    """A booking's page; ``error``: a refused action (409), ``form_overrides``: forms as sent."""
    page_forms = {
        "cancel_form": forms.CancelForm(formdata=None),
        "decline_form": forms.DeclineForm(formdata=None),
        "action_form": EmptyForm(formdata=None),
        **form_overrides,
    }
    return render_template(
        "schedule/booking.html",
        business=staff_business(),
        booking=booking,
        events=schedule.booking_events(db.session, booking),
        now=utcnow(),
        error=error,
        **page_forms,
    ), status


def back_to(booking, form: forms.ActionForm) -> str:
    """Where an action on a booking returns: the dashboard or the booking's page."""
    if form.return_to.data == "dashboard":
        return url_for("staff.dashboard")
    return url_for("schedule.show_booking", booking_id=booking.id)


# Booking for a client ------------------------------------------------------------


@dataclass
class NewBooking:
    """The staff booking page: the search (by GET) and, once it found times, the booking form."""

    business: Business
    now: datetime
    search: forms.SlotSearchForm
    searched: bool
    slots: list[Slot]
    form: forms.StaffBookingForm

    @classmethod
    def from_request(cls, session: Session, business: Business, now: datetime) -> NewBooking:
        search = forms.SlotSearchForm(
            request.args,
            services=bookable_services(session, business),
            providers=active_rows(session, business.id, Provider),
            window=BookingWindow.for_business(business, now),
        )
        searched = "service" in request.args and search.validate()
        page = cls(business, now, search, searched, [], None)
        page.slots = page.free_slots(session) if searched else []
        page.form = forms.StaffBookingForm(slots=page.slots, business=business)
        return page

    def free_slots(self, session: Session) -> list[Slot]:
        search = self.search
        return schedule.free_slots(
            session,
            self.business,
            search.chosen_service,
            search.chosen_provider,
            search.day.data,
            self.now,
        )

    def ready(self) -> bool:
        """A search found times and the submitted form chose one and names the client."""
        return self.searched and self.form.validate_on_submit()

    def book(self, session: Session, actor, origin):
        """``actor`` books the chosen time for the client (see ``schedule.book_for_client``)."""
        return schedule.book_for_client(
            session,
            self.business,
            self.search.chosen_service,
            self.search.chosen_provider,
            self.form.chosen_start,
            self.form.details,
            actor,
            self.now,
            origin,
        )

    def render(self):
        """The page; 422 when a search or a booking was refused."""
        failed = request.method == "POST" or ("service" in request.args and not self.searched)
        return self._render(422 if failed else 200)

    def render_taken(self, session: Session):
        """The page again after the chosen time was taken (409): fresh times, the input kept."""
        self.slots = self.free_slots(session)
        self.form = forms.StaffBookingForm(slots=self.slots, business=self.business)
        self.form.start.errors = [str(forms.TIME_TAKEN)]
        return self._render(409)

    def _render(self, status: int):
        return render_template(
            "schedule/new_booking.html",
            business=self.business,
            search=self.search,
            form=self.form,
            slots=self.slots,
            searched=self.searched,
        ), status
