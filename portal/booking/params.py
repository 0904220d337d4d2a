"""Parsing the booking flow's URL parameters into checked values (or a 4xx)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from portal.booking.availability import BookingWindow
from portal.booking.service import DayNotBookable, check_day
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.db import MAX_ID

ANY_PROVIDER = "any"

# Built once (every page of the flow runs it); the providers come in the same
# query, as every page of the flow needs them.
_SERVICE = (
    select(Service)
    .options(joinedload(Service.providers))
    .where(
        Service.id == bindparam("service_id"),
        Service.business_id == bindparam("business_id"),
        Service.active,
    )
)


def service_or_404(session: Session, business: Business, service_id: int) -> Service:
    if service_id > MAX_ID:
        abort(
            404, description=_("We could not find that service. Please choose one from the list.")
        )
    service = (
        session.scalars(_SERVICE, {"service_id": service_id, "business_id": business.id})
        .unique()
        .one_or_none()
    )
    if service is None:
        abort(
            404, description=_("We could not find that service. Please choose one from the list.")
        )
    return service


def provider_choice(raw: str | None, providers: list[Provider]) -> tuple[Provider | None, str]:
    """The chosen provider (None for "any available") and its URL value."""
    if raw in (None, "", ANY_PROVIDER):
        return None, ANY_PROVIDER
    # isdigit() alone also accepts characters int() refuses, such as "²".
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        abort(400, description=_("That provider choice is not valid. Please choose again."))
    for provider in providers:
        if provider.id == int(raw):
            return provider, raw
    abort(404, description=_("That provider does not offer this service. Please choose again."))


def parse_day(raw: str | None) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, description=_("That date is not valid. Please pick a day from the calendar."))


def parse_month(raw: str | None) -> date | None:
    """A month given as ``YYYY-MM``, as the first day of that month (a 400 when malformed)."""
    if raw in (None, ""):
        return None
    year, dash, month = raw.partition("-")
    if not (
        dash
        and len(year) == 4
        and len(month) == 2
        and (year + month).isascii()
        and (year + month).isdigit()
        and 1 <= int(month) <= 12
        and int(year) > 0
    ):
        abort(400, description=_("That month is not valid. Please use the calendar's links."))
    return date(int(year), int(month), 1)


def month_in_window(raw: str | None, window: BookingWindow) -> date | None:
    """The month asked for, if any, checked to overlap the booking window (else a 400)."""
    month = parse_month(raw)
    if month is None:
        return None
    if (month.year, month.month) < (window.first_day.year, window.first_day.month) or (
        month.year,
        month.month,
    ) > (window.last_day.year, window.last_day.month):
        abort(
            400,
            description=_(
                "No bookings are taken in that month. Please pick a month from the calendar."
            ),
        )
    return month


def parse_start(raw: str | None) -> datetime:
    """A slot's start, given in the URL as an ISO 8601 instant with an offset."""
    if not raw or len(raw) > 40:
        abort(400, description=_("No time was chosen. Please pick a time from the list."))
    try:
        start = datetime.fromisoformat(raw)
    except ValueError:
        abort(400, description=_("That time is not valid. Please pick a time from the list."))
    # Years at the very edge overflow when shifted into UTC or the business timezone.
    if start.tzinfo is None or not datetime.min.year < start.year < datetime.max.year:
        abort(400, description=_("That time is not valid. Please pick a time from the list."))
    return start.astimezone(UTC)


def day_in_window(raw: str | None, business: Business, window: BookingWindow) -> date | None:
    """The day asked for, if any, checked against the booking window (else a 400)."""
    day = parse_day(raw)
    try:
        check_day(business, window, day)
    except DayNotBookable as refusal:
        abort(400, description=str(refusal))
    return day
