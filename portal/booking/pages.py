"""What each page of the booking flow asks for, checked, and what it renders.

The views stay a few lines long: they build one of these from the request,
call the booking domain, and render a page from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from babel.dates import format_date
from flask import abort, current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.accounts.current import signed_in_client
from portal.accounts.models import ClientAccount
from portal.booking import service as booking_service
from portal.booking.availability import BookingWindow
from portal.booking.forms import BookingDetailsForm, CancelForm
from portal.booking.models import Booking
from portal.booking.params import (
    day_in_window,
    month_in_window,
    parse_start,
    provider_choice,
    service_or_404,
)
from portal.booking.picker import Picker, pick
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.clients.accounts import client_of
from portal.clock import utcnow
from portal.giftcards.service import GiftCardError
from portal.web.errors import RefusedWithPage
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l
from portal.web.tenancy import current_business

DETAILS = "booking/details.html"

INVALID_LINK = _l(
    "This link is not valid or has expired. Links to a booking stop working once the "
    "appointment is over; check the latest e-mail from the business."
)


class DONE(StrEnum):
    """What just happened to a booking, carried to its manage page in the URL (``?done=``)."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"

    @classmethod
    def parse(cls, raw: str | None) -> DONE | None:
        if not raw:
            return None
        try:
            return cls(raw)
        except ValueError:
            abort(
                400, description=_("This page address is not valid. Please open your link again.")
            )


@dataclass
class BookingRequest:
    """The details step: a service, a time and a provider choice from the URL, and the form."""

    session: Session
    business: Business
    service: Service
    providers: list[Provider]
    provider: Provider | None
    provider_value: str
    start: datetime
    documents: booking_service.Documents
    account: ClientAccount | None
    form: BookingDetailsForm

    @classmethod
    def from_request(cls, session: Session, business: Business, service_id: int) -> BookingRequest:
        service = service_or_404(session, business, service_id)
        providers = booking_service.bookable_providers(session, business, service)
        provider, provider_value = provider_choice(request.args.get("provider"), providers)
        start = parse_start(request.args.get("start"))
        documents = booking_service.documents_to_accept(session, business)
        account = signed_in_client(business)
        form = BookingDetailsForm(
            terms_required=documents.terms is not None,
            policy_required=documents.policy is not None,
            account_client=client_of(session, account) if account is not None else None,
            phone=business.client_phone,
            notes=business.client_notes,
        )
        return cls(
            session,
            business,
            service,
            providers,
            provider,
            provider_value,
            start,
            documents,
            account,
            form,
        )

    @property
    def chosen(self) -> list[Provider]:
        return [self.provider] if self.provider else self.providers

    def deadlines(self, now: datetime) -> booking_service.SlotDeadlines | None:
        """The chosen time's cancellation and rescheduling deadlines, worked out now."""
        return booking_service.slot_deadlines(self.documents.policy, self.start, now)

    def ensure_bookable(self) -> None:
        """Before showing the form: a blocked account and a gone time get their page now."""
        client = self.form.account_client
        if client is not None and booking_service.client_is_blocked(
            self.session, self.business, client, also=self.account.email
        ):
            abort(refusal_page(booking_service.ClientBlocked(self.business)))
        try:
            booking_service.check_offered(
                self.session, self.business, self.service, self.chosen, self.start, utcnow()
            )
        except booking_service.SlotTaken:
            abort(slot_taken_page(self))
        except booking_service.SlotUnavailable as refusal:
            abort(400, description=str(refusal))

    def place(self) -> tuple[Booking, str]:
        form, now = self.form, utcnow()
        placed = booking_service.place_booking(
            self.session,
            self.business,
            self.service,
            self.provider,
            self.start,
            booking_service.ClientDetails(
                form.name.data, form.email.data, form.phone_number, notes=form.notes_text
            ),
            booking_service.Consents(
                terms=self.documents.terms if form.accept_terms.data else None,
                policy=self.documents.policy if form.accept_policy.data else None,
                ip_address=request.remote_addr or "",
            ),
            now,
            client=form.account_client,
            gift_card_code=form.gift_card_code.data or "",
        )
        self._ensure_deadline_warning_shown(now)
        return placed

    def _ensure_deadline_warning_shown(self, now: datetime) -> None:
        """Refuse a booking past a deadline unless the form sent showed the warning.

        The consent records that the warning was shown; so when a deadline
        passed after the form was shown, the form comes back with the warning,
        to be confirmed once more (raised: the booking just placed is undone).
        The form's hidden field alone proves nothing: the deadlines are worked
        out here again, and the field only counts when one has passed.
        """
        deadlines = self.deadlines(now)
        if deadlines is None or not deadlines.any_passed or self.form.deadline_notice.data:
            return
        self.form.accept_policy.errors = [
            _(
                "A deadline of this time passed while you filled in the form. "
                "Please read the note about it and confirm again."
            )
        ]
        raise RefusedWithPage(lambda: (render_template(DETAILS, **self.page()), 422))

    def refused(self, refusal: booking_service.BookingError | GiftCardError):
        """Raise the page for a booking the rules refused (a 400 for a time never offered).

        Raised, not returned: the unit of work first undoes what the attempt
        wrote (a new client row), then the page renders.
        """
        if isinstance(refusal, GiftCardError):
            self.form.gift_card_code.errors = [str(refusal)]
            raise RefusedWithPage(lambda: (render_template(DETAILS, **self.page()), 422))
        if isinstance(refusal, booking_service.SlotTaken):
            raise RefusedWithPage(lambda: slot_taken_page(self))
        if isinstance(
            refusal, (booking_service.ClientBlocked, booking_service.BookingLimitReached)
        ):
            raise RefusedWithPage(lambda: refusal_page(refusal))
        abort(400, description=str(refusal))

    def page(self) -> dict:
        return dict(
            business=self.business,
            service=self.service,
            provider=self.provider,
            provider_value=self.provider_value,
            start=self.start,
            terms=self.documents.terms,
            policy=self.documents.policy,
            form=self.form,
            account=self.account,
            gift_cards=booking_service.gift_cards_accepted(self.session, self.business),
            deadlines=self.deadlines(utcnow()),
        )


@dataclass
class MoveRequest:
    """Rescheduling: the booking, the provider choice and (once picked) the new time."""

    session: Session
    business: Business
    booking: Booking
    providers: list[Provider]
    provider: Provider | None
    provider_value: str
    start: datetime | None = None

    @classmethod
    def from_request(cls, session: Session, business: Business, booking: Booking) -> MoveRequest:
        providers = booking_service.bookable_providers(session, business, booking.service)
        if request.method == "POST":
            raw = request.form.get("provider")
        else:
            own = str(booking.provider_id) if booking.provider in providers else "any"
            raw = request.args.get("provider", own)
        provider, provider_value = provider_choice(raw, providers)
        return cls(session, business, booking, providers, provider, provider_value)

    @property
    def chosen(self) -> list[Provider]:
        return [self.provider] if self.provider else self.providers

    def place(self, now: datetime) -> Booking:
        self.start = parse_start(request.form.get("start"))
        return booking_service.reschedule(
            self.session, self.booking, self.start, now, self.provider
        )

    def refused(self, refusal: booking_service.BookingError, token: str):
        """The page for a move the rules refused (a 400 for a time never offered).

        A late move is returned, so the note of it is committed; a time taken is
        raised, so what the attempt changed is undone first.
        """
        if isinstance(refusal, booking_service.SlotTaken):
            raise RefusedWithPage(lambda: reschedule_taken_page(self, token))
        if isinstance(refusal, (booking_service.SameTime, booking_service.SlotUnavailable)):
            abort(400, description=str(refusal))
        return refused_page(self.business, self.booking, token, refusal)

    def _page(self, token: str, **extra) -> dict:
        return dict(
            business=self.business,
            booking=self.booking,
            token=token,
            providers=self.providers,
            provider=self.provider,
            provider_value=self.provider_value,
            form=EmptyForm(),
            **extra,
        )

    def confirmation_page(self, token: str, now: datetime) -> dict:
        """The step that confirms the new time picked; a 409 or 400 page when it cannot be."""
        self.start = parse_start(request.args.get("start"))
        try:
            slot = booking_service.check_offered(
                self.session,
                self.business,
                self.booking.service,
                self.chosen,
                self.start,
                now,
                moving=self.booking,
            )
        except booking_service.SlotTaken:
            abort(reschedule_taken_page(self, token))
        except booking_service.SlotUnavailable as refusal:
            abort(400, description=str(refusal))
        own = self.booking.provider_id in slot.provider_ids
        if own and self.start == self.booking.start_at:
            abort(400, description=str(booking_service.SameTime()))
        picked_id = self.booking.provider_id if own else slot.provider_ids[0]
        picked = next(p for p in self.chosen if p.id == picked_id)
        return self._page(token, start=self.start, chosen_provider=picked)

    def calendar_page(self, token: str, now: datetime) -> dict:
        """The month and free times the booking may move to, as the picker templates take them."""
        # Its own time is not offered: choosing it would change nothing (with another
        # provider chosen, the same time is a real change).
        own = self.provider is None or self.provider.id == self.booking.provider_id
        picker = picker_from_request(
            self.session,
            self.business,
            self.booking.service,
            self.provider,
            self.providers,
            now,
            exclude_booking_id=self.booking.id,
            skip_start=self.booking.start_at if own else None,
        )
        return self._page(token, start=None, picker=picker)


def picker_from_request(
    session: Session,
    business: Business,
    service: Service,
    provider: Provider | None,
    providers: list[Provider],
    now: datetime,
    **moving,
) -> Picker:
    """The slot picker for the ``day`` or ``month`` in the URL (a 400 outside the window)."""
    window = BookingWindow.for_business(business, now)
    day = day_in_window(request.args.get("day"), business, window)
    month = month_in_window(request.args.get("month"), window)
    chosen = [provider] if provider else providers
    return pick(session, business, service, chosen, now, day=day, month=month, **moving)


def manage_page(business, booking, token: str, *, refused: str | None = None, done=None) -> str:
    """A client's booking; ``refused`` names the refusal shown, ``done`` what just happened."""
    return render_template(
        "booking/manage.html",
        business=business,
        booking=booking,
        token=token,
        form=EmptyForm(),
        now=utcnow(),
        refused=refused,
        done=done,
    )


#: A deadline in a sentence: "Mon 7 Dec, 10:00" in English, "Mo. 7. Dez., 10:00" in German.
SHORT_DAY_PATTERNS = {"en": "EEE d MMM", "de": "EEE d. MMM"}


def short_datetime(instant: datetime, business: Business) -> str:
    """``instant`` as the business's wall-clock time, short, in the page's language.

    The year shows only when it is not the current one.
    """
    moment = business.local(instant)
    locale = get_locale()
    language = locale.language if locale is not None else "en"
    pattern = SHORT_DAY_PATTERNS.get(language, SHORT_DAY_PATTERNS["en"])
    if moment.year != business.local(utcnow()).year:
        pattern += " y"
    return f"{format_date(moment.date(), pattern, locale=language)}, {moment:%H:%M}"


def cancel_page(business, booking, token: str, form: CancelForm, now: datetime) -> str:
    """The cancel step of the manage page: what cancelling means now, a reason, or move instead."""
    return _cancel_step(
        business,
        booking,
        form,
        now,
        back_url=url_for("booking.manage", token=token),
        action_url=url_for("booking.cancel", token=token),
        reschedule_url=url_for("booking.reschedule", token=token),
    )


def account_cancel_page(business, booking, form: CancelForm, now: datetime) -> str:
    """The same step from a client account's "My bookings" (its manage link, if known)."""
    token = booking_service.open_manage_token(booking)
    return _cancel_step(
        business,
        booking,
        form,
        now,
        back_url=url_for("client_accounts.bookings"),
        action_url=url_for("client_accounts.cancel_booking", booking_id=booking.id),
        reschedule_url=url_for("booking.reschedule", token=token) if token else None,
    )


def _cancel_step(
    business, booking, form: CancelForm, now: datetime, *, back_url, action_url, reschedule_url
) -> str:
    return render_template(
        "booking/cancel.html",
        business=business,
        booking=booking,
        form=form,
        now=now,
        back_url=back_url,
        action_url=action_url,
        reschedule_url=reschedule_url if booking.can_reschedule(now) else None,
    )


#: What the manage page says about a refused cancellation or move.
REFUSED_ON_MANAGE_PAGE = {
    booking_service.CancellationTooLate: "late",
    booking_service.RescheduleTooLate: "late_reschedule",
    booking_service.AlreadyCancelled: "already",
}


def refused_page(business, booking, token: str, refusal: booking_service.BookingError):
    """The manage page with the warning for a late or repeated cancel or move (a 409)."""
    refused = REFUSED_ON_MANAGE_PAGE[type(refusal)]
    return manage_page(business, booking, token, refused=refused), 409


#: A refusal about the client, not the time: blocked is 403; over a limit is 409, not
#: 429, since waiting does not help (the bookings already held must change).
REFUSAL_STATUS = {booking_service.ClientBlocked: 403, booking_service.BookingLimitReached: 409}


def refusal_page(refusal: booking_service.BookingError):
    """The page for a booking the business's rules about this client refuse."""
    status = REFUSAL_STATUS[type(refusal)]
    body = render_template(
        "errors/error.html",
        business=current_business(),
        status=status,
        title=_("Booking not possible online"),
        message=str(refusal),
    )
    return current_app.response_class(body, status=status)


def slot_taken_page(booking_request: BookingRequest):
    body = render_template(
        "booking/slot_taken.html",
        business=booking_request.business,
        service=booking_request.service,
        provider_value=booking_request.provider_value,
        start=booking_request.start,
    )
    return current_app.response_class(body, status=409)


def reschedule_taken_page(move: MoveRequest, token: str):
    body = render_template(
        "booking/reschedule_taken.html",
        business=move.business,
        booking=move.booking,
        token=token,
        provider_value=move.provider_value,
        start=move.start,
    )
    return current_app.response_class(body, status=409)
