"""What the staff booking pages ask for, checked, and what they render.

The views stay a few lines long: they read the URL through here, call the
schedule domain, and render a page from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, g, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from portal.booking import service as booking_service
from portal.booking.availability import BookingWindow, Slot, slots_on
from portal.booking.models import Booking
from portal.booking.service import bookable_services
from portal.businesses.models import Business
from portal.catalog.models import Provider
from portal.catalog.service import active_rows
from portal.clients.forms import NotesForm
from portal.clients.models import Client
from portal.clients.service import MAX_QUERY_LENGTH, find_client, find_clients
from portal.clock import utcnow
from portal.extensions import db
from portal.schedule import forms, frontdesk
from portal.schedule import service as schedule
from portal.staff.pages import staff_business
from portal.web.formatting import iso_utc, local_datetime, local_time
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l

NO_SUCH_BOOKING = _l("There is no such booking at this business.")


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
        "notes_form": NotesForm(formdata=None, notes=booking.staff_notes),
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

#: The most clients the new-booking page's client search lists.
CLIENT_RESULTS = 10


def _id_arg(name: str, message: str) -> int | None:
    """A whole-number id from the query string, None when absent; 400 with ``message``."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) == 0:
        abort(400, description=message)
    return int(raw)


def _chosen_client(session: Session, business: Business) -> Client | None:
    client_id = _id_arg(
        "client", _("That client choice is not valid. Pick a client from the search.")
    )
    if client_id is None:
        return None
    client = find_client(session, business.id, client_id)
    if client is None:
        abort(400, description=_("There is no such client at this business."))
    return client


def _wanted_time() -> str | None:
    """The prefilled time of day ("HH:MM"), or None; 400 when it is not one."""
    raw = request.args.get("time") or ""
    if not raw:
        return None
    if not forms.parse_wall_time(raw):
        abort(400, description=_("That time is not valid. Use a time like 09:30."))
    return forms.parse_wall_time(raw).strftime("%H:%M")


def _search_args(services: list, providers: list[Provider]) -> MultiDict:
    """The slot search as asked; a provider without a service gets their first bookable one.

    So a free cell of the calendar (provider, day, time) leads straight to its times.
    """
    args = MultiDict(request.args)
    if args.get("service") or not args.get("provider") or args.get("provider") == "any":
        return args
    raw = args["provider"]
    provider = next((p for p in providers if str(p.id) == raw), None)
    if provider is None:
        abort(400, description=_("That provider choice is not valid. Choose one from the list."))
    offered = next((s for s in services if provider in s.providers), None)
    if offered is None:
        abort(
            400,
            description=_(
                "%(provider)s offers no service that can be booked.", provider=provider.name
            ),
        )
    args["service"] = str(offered.id)
    return args


#: What the new-booking page's links and GET forms pass on.
PAGE_PARAMS = ("client", "service", "provider", "day", "time", "find")


def page_args(leave_out: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The new-booking page's query parameters but ``leave_out``, for links and hidden fields."""
    return [
        (name, request.args[name])
        for name in PAGE_PARAMS
        if name not in leave_out and request.args.get(name)
    ]


@dataclass
class NewBooking:
    """The staff booking page: the client (picked by search, or new), the times, the form."""

    business: Business
    now: datetime
    search: forms.SlotSearchForm
    searched: bool
    slots: list[Slot]
    form: forms.StaffBookingForm
    client: Client | None
    may_override: bool
    wanted_time: str | None = None
    #: Whether a search was asked for (a service chosen, or a provider of a calendar cell).
    asked: bool = False
    client_query: str = ""
    found_clients: list[Client] | None = None
    time_not_free: bool = False

    @classmethod
    def from_request(cls, session: Session, business: Business, actor, now: datetime) -> NewBooking:
        client = _chosen_client(session, business)
        wanted = _wanted_time()
        services = bookable_services(session, business)
        providers = active_rows(session, business.id, Provider)
        may = frontdesk.may_override(business, actor)
        args = _search_args(services, providers)
        search = forms.SlotSearchForm(
            args,
            services=services,
            providers=providers,
            window=BookingWindow.for_business(business, now),
            first_day=business.local(now).date() if may else None,
        )
        searched = "service" in args and search.validate()
        page = cls(
            business, now, search, searched, [], None, client, may, wanted, "service" in args
        )
        page.slots = page.free_slots(session) if searched else []
        page.form = forms.StaffBookingForm(slots=page.slots, business=business, client=client)
        if wanted and request.method == "GET" and searched:
            page.time_not_free = not page.form.preselect(wanted, business)
        page.find_clients(session)
        return page

    def find_clients(self, session: Session) -> None:
        query = (request.args.get("find") or "").strip()
        if len(query) > MAX_QUERY_LENGTH:
            abort(
                400, description=_("Search for at most %(num)d characters.", num=MAX_QUERY_LENGTH)
            )
        self.client_query = query
        if query and self.client is None:
            self.found_clients = find_clients(session, self.business.id, query, CLIENT_RESULTS)

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
        """A search found a day and the submitted form chose a time and names the client."""
        return self.searched and self.form.validate_on_submit()

    def book(self, session: Session, actor, origin):
        """``actor`` books the chosen time for the client (see ``schedule.book_for_client``)."""
        form = self.form
        if form.overriding:
            start = frontdesk.local_start(self.business, self.search.day.data, form.wall_time)
        else:
            start = form.chosen_start
        return schedule.book_for_client(
            session,
            self.business,
            self.search.chosen_service,
            self.search.chosen_provider,
            start,
            form.details,
            actor,
            self.now,
            origin,
            client=self.client,
            override_reason=form.override_reason.data if form.overriding else None,
        )

    def render(self):
        """The page; 422 when a search or a booking was refused."""
        failed = request.method == "POST" or (self.asked and not self.searched)
        return self._render(422 if failed else 200)

    def render_taken(self, session: Session, message: str | None = None, status: int = 409):
        """The page again after the chosen time was taken (409): fresh times, the input kept."""
        self.slots = self.free_slots(session)
        self.form = forms.StaffBookingForm(
            slots=self.slots, business=self.business, client=self.client
        )
        self.form.start.errors = [message or str(forms.TIME_TAKEN)]
        return self._render(status)

    def _render(self, status: int):
        return render_template(
            "schedule/new_booking.html",
            business=self.business,
            page=self,
            page_args=page_args,
            search=self.search,
            form=self.form,
            slots=self.slots,
            searched=self.searched,
        ), status


# Moving a booking ------------------------------------------------------------------


@dataclass
class MovePage:
    """Staff move a booking: provider and day (by GET), then a free time (or an override)."""

    business: Business
    booking: Booking
    now: datetime
    search: forms.SlotSearchForm
    searched: bool
    slots: list[Slot]
    form: forms.MoveForm
    may_override: bool

    @classmethod
    def from_request(cls, session: Session, business: Business, booking: Booking, actor, now):
        may = frontdesk.may_override(business, actor)
        window = BookingWindow.for_business(business, now)
        args = MultiDict(request.args)
        args["service"] = str(booking.service_id)
        if not args.get("provider"):
            args["provider"] = str(booking.provider_id)
        if not args.get("day"):
            own_day = business.local(booking.start_at).date()
            args["day"] = max(own_day, window.first_day).isoformat()
        search = forms.SlotSearchForm(
            args,
            services=[booking.service],
            providers=booking_service.bookable_providers(session, business, booking.service),
            window=window,
            first_day=business.local(now).date() if may else None,
        )
        searched = search.validate()
        page = cls(business, booking, now, search, searched, [], forms.MoveForm(), may)
        if searched:
            page.slots = slots_on(
                session,
                business,
                booking.service,
                [search.chosen_provider] if search.chosen_provider else page.providers,
                search.day.data,
                now,
                exclude_booking_id=booking.id,
            )
            # Its own time is not offered (choosing it would change nothing) unless
            # another provider is chosen.
            if search.chosen_provider is None or search.chosen_provider.id == booking.provider_id:
                page.slots = [s for s in page.slots if s.start != booking.start_at]
        page.form.start.choices = [
            (iso_utc(s.start), local_time(s.start, business)) for s in page.slots
        ]
        return page

    @property
    def providers(self) -> list[Provider]:
        return list(self.search.providers.values())

    def move(self, session: Session, actor, origin) -> Booking:
        form = self.form
        if form.overriding:
            start = frontdesk.local_start(self.business, self.search.day.data, form.wall_time)
        else:
            start = form.new_start
        return frontdesk.move_by_staff(
            session,
            self.booking,
            start,
            self.search.chosen_provider,
            actor,
            self.now,
            origin,
            override_reason=form.override_reason.data if form.overriding else None,
        )

    def render(self, status: int | None = None, error: str | None = None):
        if status is None:
            status = 422 if request.method == "POST" or not self.searched else 200
        return render_template(
            "schedule/move.html",
            business=self.business,
            booking=self.booking,
            page=self,
            search=self.search,
            form=self.form,
            error=error,
        ), status


def booked_message(booking: Booking) -> str:
    """What staff read once a booking for a client is made."""
    if booking.client.email:
        return _(
            "Booked. %(email)s gets a confirmation with the link to manage it.",
            email=booking.client.email,
        )
    return _(
        "Booked. %(name)s has no e-mail address, so no e-mail was sent.", name=booking.client.name
    )


def moved_message(booking: Booking, business: Business) -> str:
    """What staff read once a booking is moved."""
    when = local_datetime(booking.start_at, business)
    if booking.client.email:
        return _(
            "Moved to %(when)s. %(email)s gets the new time with an updated calendar file.",
            when=when,
            email=booking.client.email,
        )
    return _(
        "Moved to %(when)s. %(name)s has no e-mail address, so no e-mail was sent.",
        when=when,
        name=booking.client.name,
    )
