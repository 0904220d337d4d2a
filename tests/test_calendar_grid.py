"""The staff calendar's time grid: layout math, the page, and marking arrivals.

NOW is Monday 2 March 2026, 07:00 in Berlin (06:00 UTC); the salon's Alex
works 09:00-17:00 every day.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, select

from portal.audit.models import AuditEvent
from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.catalog.models import Provider
from portal.extensions import db
from portal.schedule.grid import Entry, Loaded, Place, layout
from tests.conftest import NOW, csrf_token, sign_in
from tests.factories import make_provider

BERLIN = "Europe/Berlin"
MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Berlin as a UTC instant (written out, not computed by the grid)."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)


# Layout, without a database ------------------------------------------------------


def provider(id_: int = 1, name: str = "Anna", active: bool = True) -> Provider:
    return Provider(id=id_, business_id=1, name=name, active=active)


def booking(
    start: datetime,
    minutes: int = 45,
    buffer: int = 0,
    *,
    provider_id: int = 1,
    status: str = "confirmed",
    id_: int = 1,
    no_show: bool = False,
    arrived_at: datetime | None = None,
) -> Entry:
    end = start + timedelta(minutes=minutes)
    return Entry(
        id=id_,
        provider_id=provider_id,
        start_at=start,
        end_at=end,
        occupied_until=end + timedelta(minutes=buffer),
        status=status,
        no_show=no_show,
        arrived_at=arrived_at,
        client_name="Mia Example",
        service_name="Haircut",
        has_note=False,
    )


def hours(*stretches, weekdays=range(7), provider_id: int = 1):
    """Working hours ``stretches`` ((start hour, end hour), ...) on ``weekdays``."""
    return {
        (provider_id, weekday): [(time(lo), time(hi)) for lo, hi in stretches]
        for weekday in weekdays
    }


def day_grid(bookings, *, work=None, days_off=None, day=TUESDAY, now=NOW, providers=None):
    business = Business(slug="x", name="X", timezone=BERLIN)
    loaded = Loaded(
        providers=providers or [provider()],
        bookings=bookings,
        hours=work if work is not None else hours((9, 17)),
        days_off=days_off or {},
    )
    return layout(business, "day", [day], loaded, now)


def test_a_45_minute_booking_spans_nine_five_minute_rows_from_its_start():
    grid = day_grid([booking(berlin(TUESDAY, 10, 0), 45)])
    # Rows: 1 is the header, then one per 5 minutes from 09:00 (the earliest working hour).
    # 10:00 is 60 minutes = 12 rows after 09:00: row 2 + 12 = 14; 45 minutes = 9 rows.
    (block,) = grid.blocks
    assert block.place == Place(row=14, span=9, column=2)
    assert (block.starts, block.ends) == ("10:00", "10:45")
    assert block.tail is None


def test_the_buffer_is_a_tail_below_the_block_until_occupied_until():
    grid = day_grid([booking(berlin(TUESDAY, 10, 0), 45, buffer=15)])
    (block,) = grid.blocks
    assert block.place == Place(row=14, span=9, column=2)
    assert block.tail == Place(row=23, span=3, column=2)


def test_a_cancelled_booking_has_no_tail_and_frees_its_time():
    grid = day_grid([booking(berlin(TUESDAY, 10, 0), 45, buffer=15, status="cancelled")])
    (block,) = grid.blocks
    assert block.tail is None and block.faded and block.state_label == "Cancelled"
    assert "10:00" in {cell.time for cell in grid.cells}


def test_the_hours_run_from_the_earliest_start_to_the_latest_end():
    grid = day_grid(
        [],
        work={**hours((10, 12), (13, 16)), **hours((8, 14), provider_id=2)},
        providers=[provider(), provider(2, "Ben")],
    )
    assert (grid.first_minute, grid.last_minute) == (8 * 60, 16 * 60)
    assert [mark.text for mark in grid.hours] == [f"{h:02d}:00" for h in range(8, 16)]


def test_without_working_hours_the_grid_shows_eight_to_six():
    grid = day_grid([], work={})
    assert (grid.first_minute, grid.last_minute) == (8 * 60, 18 * 60)
    assert grid.cells == []  # no working time: nothing offered
    assert {shade.kind for shade in grid.shades} == {"closed"}


def test_bookings_outside_the_hours_widen_them_to_whole_hours():
    early = booking(berlin(TUESDAY, 6, 40), 30, id_=1)
    late = booking(berlin(TUESDAY, 18, 50), 30, buffer=10, id_=2)
    grid = day_grid([early, late])
    # 06:40 widens the start to 06:00; 18:50 + 30 + 10 = 19:30 widens the end to 20:00.
    assert (grid.first_minute, grid.last_minute) == (6 * 60, 20 * 60)
    first, second = grid.blocks
    assert first.place.row == 2 + 40 // 5
    assert second.place.row == 2 + (12 * 60 + 50) // 5


def test_a_booking_on_the_spring_dst_day_sits_at_its_wall_clock_time():
    # Sunday 29 March 2026: Berlin moves from 02:00 to 03:00. 10:00 local is 08:00 UTC
    # (09:00 UTC the day before): the block must sit at the 10:00 row all the same.
    sunday = date(2026, 3, 29)
    grid = day_grid([booking(utc(2026, 3, 29, 8, 0), 60)], day=sunday)
    (block,) = grid.blocks
    assert block.place == Place(row=2 + 12, span=12, column=2)
    assert (block.starts, block.ends) == ("10:00", "11:00")


def test_a_booking_in_the_repeated_autumn_hour_keeps_its_real_length():
    # Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET. 00:30-01:30 UTC is 02:30 CEST
    # to 02:30 CET: the wall clock shows no time passing, the booking lasts an hour.
    sunday = date(2026, 10, 25)
    grid = day_grid([booking(utc(2026, 10, 25, 0, 30), 60)], day=sunday)
    (block,) = grid.blocks
    assert grid.first_minute == 2 * 60
    assert block.place == Place(row=2 + 30 // 5, span=12, column=2)


def test_free_cells_split_at_half_hours_around_bookings_and_skip_the_past():
    now = berlin(TUESDAY, 9, 40)
    grid = day_grid([booking(berlin(TUESDAY, 10, 15), 30, buffer=5)], now=now, work=hours((9, 12)))
    cells = [(cell.time, cell.place.span) for cell in grid.cells]
    # Nothing before 09:40 (now); 10:15-10:50 is taken (30 minutes and a 5-minute buffer).
    assert cells == [
        ("09:40", 4),
        ("10:00", 3),
        ("10:50", 2),
        ("11:00", 6),
        ("11:30", 6),
    ]


def test_no_free_cells_on_a_day_off_or_a_past_day_and_the_day_off_is_shaded():
    off = day_grid([], days_off={(1, TUESDAY): "Training"})
    assert off.cells == []
    assert [(s.kind, s.note) for s in off.shades] == [("off", "Training")]
    past = day_grid([], day=date(2026, 3, 1))
    assert past.cells == []
    assert [s.kind for s in past.shades] == ["closed", "open"]


def test_the_current_time_is_a_line_in_todays_columns_only():
    today = day_grid([], day=MONDAY, now=berlin(MONDAY, 11, 7))
    # 11:07 is 125 minutes after 09:00: row 2 + 25.
    assert today.now_line == Place(row=27, span=1, column=2)
    assert day_grid([], day=TUESDAY, now=berlin(MONDAY, 11, 7)).now_line is None
    assert day_grid([], day=MONDAY, now=berlin(MONDAY, 7, 0)).now_line is None  # before 09:00


def test_the_week_with_two_providers_has_a_lane_per_provider_and_day():
    business = Business(slug="x", name="X", timezone=BERLIN)
    days = [MONDAY + timedelta(days=n) for n in range(7)]
    loaded = Loaded(
        providers=[provider(), provider(2, "Ben")],
        bookings=[booking(berlin(date(2026, 3, 4), 9, 0), 30, provider_id=2)],
        hours={**hours((9, 17)), **hours((9, 17), provider_id=2)},
        days_off={},
    )
    grid = layout(business, "week", days, loaded, berlin(MONDAY, 10, 0))
    assert grid.columns == 14 and grid.header_rows == 2
    # Wednesday is the third day: its lanes are columns 6 (Anna) and 7 (Ben).
    (block,) = grid.blocks
    assert block.place == Place(row=3, span=6, column=7)
    assert [head.place for head in grid.heads][:2] == [
        Place(1, 1, 2, width=2),
        Place(1, 1, 4, width=2),
    ]
    assert grid.now_line == Place(row=3 + 12, span=1, column=2, width=2)


def test_the_style_rules_hold_only_class_names_and_numbers():
    grid = day_grid([booking(berlin(TUESDAY, 10, 0), 45, buffer=15)])
    css = grid.css()
    assert ".gr14{grid-row-start:14}" in css
    assert ".gs9{grid-row-end:span 9}" in css
    assert ".gc2{grid-column-start:2}" in css
    stripped = re.sub(r"(grid-(row|column)-(start|end)|span|var\(--cal-[a-z]+\)|repeat)", "", css)
    assert re.fullmatch(r"[#.a-z0-9{}:;(),\- ]*", stripped.replace("cal-grid", "")), css


# The page ------------------------------------------------------------------------


@pytest.fixture
def ben(session, salon):
    """A second provider of the salon, off on Wednesday 4 March."""
    return make_provider(
        session,
        salon.business,
        [salon.service],
        name="Ben",
        hours={weekday: [(time(10), time(18))] for weekday in range(5)},
        days_off=[date(2026, 3, 4)],
    )


def style_block(html: str) -> str:
    blocks = re.findall(r'<style nonce="[^"]+">(.*?)</style>', html, re.S)
    assert len(blocks) == 1, "one nonce'd style block for the grid"
    return blocks[0]


def grid_of(html: str) -> str:
    return html[html.index('id="cal-grid"') : html.index("<style nonce")]


def test_the_week_grid_shows_blocks_with_time_status_and_link(
    client, owner_client, salon, session, ben, make_booking
):
    kept = make_booking(start=berlin(TUESDAY, 10), name="Mia Example")
    make_booking(start=berlin(MONDAY, 9), name="Gone Person", status="cancelled")
    make_booking(start=berlin(date(2026, 3, 5), 11), name="Ben Client", provider=ben)
    make_booking(start=berlin(date(2026, 3, 9), 9), name="Next Week")

    page = client.get("/staff/bookings?view=week&date=2026-03-04")
    assert page.status_code == 200
    html = page.text
    grid = grid_of(html)
    assert "style=" not in html and "<script" not in html
    assert "Week of Monday, 02 March 2026 to Sunday, 08 March 2026" in html
    for label in ("Mon 02 Mar", "Tue 03 Mar", "Sun 08 Mar"):
        assert label in grid
    block = re.search(
        rf'<div class="cal-block is-confirmed [^"]*">\s*<a href="/staff/bookings/{kept.id}"[^>]*>.*?</a>',
        grid,
        re.S,
    ).group(0)
    # Provider lanes are narrow: the whole story is in the link's title too.
    assert 'title="10:00–10:30 Mia Example · Haircut · Confirmed"' in block
    assert ">10:00<" in block and "Mia Example" in block and "Haircut" in block
    assert "Confirmed" in block
    assert re.search(r'class="cal-block is-cancelled [^"]*">.*?Gone Person.*?Cancelled', grid, re.S)
    assert "Ben Client" in grid and "Next Week" not in html
    # Ben's day off is shaded and named; the week has a lane for each of the two providers.
    assert "Day off" in grid
    assert 'class="cal-grid is-week has-lanes"' in grid
    assert "repeat(14,var(--cal-lane))" in style_block(html)


def test_a_free_cell_links_to_the_new_booking_page_with_provider_day_and_time(
    client, owner_client, salon
):
    html = client.get("/staff/bookings?view=day&date=2026-03-03").text
    pid = salon.provider.id
    link = f'href="/staff/bookings/new?provider={pid}&amp;day=2026-03-03&amp;time=10:30"'
    assert link in html
    cell = html[html.index(link) : html.index("</a>", html.index(link))]
    assert "Book Alex at 10:30" in cell
    # One link per half hour of Alex's 09:00-17:00: sixteen, no more.
    assert html.count('class="cal-free ') == 16


def test_today_starts_free_cells_after_now_and_draws_the_now_line(client, owner, salon, clock):
    clock.move_to(berlin(MONDAY, 10, 10))
    sign_in(client)
    html = client.get("/staff/bookings").text
    assert "Monday, 02 March 2026" in html
    assert 'class="cal-now ' in html
    assert "time=10:10" in html and "time=10:00" not in html and "time=09:30" not in html


def test_the_list_view_lists_the_week_by_day(client, owner_client, salon, make_booking):
    make_booking(start=berlin(TUESDAY, 10), name="Mia Example")
    html = client.get("/staff/bookings?view=list&date=2026-03-03").text
    assert 'id="cal-grid"' not in html
    assert html.count('class="cal-list-day"') == 7
    assert "10:00–10:30" in html and "Mia Example · Haircut" in html


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("view=month", 400, "Choose the day, week or list view."),
        ("date=2026-13-01", 400, "That date is not valid."),
        ("date=yesterday", 400, "That date is not valid."),
        ("date=0001-01-01", 400, "That date is not valid."),
        ("provider=kim", 400, "That provider choice is not valid."),
        ("provider=99999999999999999", 400, "That provider choice is not valid."),
    ],
)
def test_bad_calendar_input_is_refused_with_a_message(client, owner_client, query, status, message):
    response = client.get(f"/staff/bookings?{query}")
    assert response.status_code == status
    assert message in response.text


def test_the_calendar_shows_only_the_business_of_the_signed_in_staff(
    client, owner_client, salon, rival, make_booking
):
    make_booking(
        business=rival.business,
        service=rival.service,
        provider=rival.provider,
        start=berlin(TUESDAY, 10),
        name="Rita Rival",
    )
    week = client.get("/staff/bookings?view=week&date=2026-03-03").text
    assert "Rita Rival" not in week and "Robin" not in week
    response = client.get(f"/staff/bookings?provider={rival.provider.id}")
    assert response.status_code == 404
    assert "Robin" not in response.text


def test_the_week_is_read_in_a_fixed_number_of_queries(
    app, client, owner_client, salon, session, ben, make_booking
):
    def statements_for_week() -> int:
        seen = []
        engine = db.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("/staff/bookings?view=week&date=2026-03-03").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    make_booking(start=berlin(TUESDAY, 9), name="Client 0")
    few = statements_for_week()
    for n in range(1, 13):
        day = MONDAY + timedelta(days=n % 5)
        make_booking(start=berlin(day, 10 + n // 5), name=f"Client {n}", provider=ben)
    assert statements_for_week() == few


# Arrived and no-show from the day view ------------------------------------------------


def press(client, page_url: str, action: str, **fields):
    """Press a button of ``page_url`` that posts to ``action`` (with the page's CSRF token)."""
    page = client.get(page_url)
    assert page.status_code == 200
    return client.post(action, data={"csrf_token": csrf_token(page.text), **fields})


DAY_PAGE = "/staff/bookings?view=day&date=2026-03-02&provider=all"
FROM_CALENDAR = {
    "return_to": "calendar",
    "return_view": "day",
    "return_date": "2026-03-02",
    "return_provider": "all",
}


def reload(session, booking) -> Booking:
    session.rollback()
    session.expire_all()
    return session.get(Booking, booking.id)


def audit_kinds(session) -> list[str]:
    session.rollback()
    return list(session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))


def test_the_day_view_shows_arrived_and_no_show_buttons_for_todays_bookings(
    client, owner_client, salon, make_booking
):
    begun = make_booking(start=berlin(MONDAY, 6, 30), name="Early Bird")
    later = make_booking(start=berlin(MONDAY, 15), name="Later Today")
    html = client.get(DAY_PAGE).text
    assert f'action="/staff/bookings/{begun.id}/arrived"' in html
    assert f'action="/staff/bookings/{begun.id}/no-show"' in html
    # Not begun yet: the client may still arrive, but cannot be a no-show.
    assert f'action="/staff/bookings/{later.id}/arrived"' in html
    assert f'action="/staff/bookings/{later.id}/no-show"' not in html
    assert '<input type="hidden" name="return_to" value="calendar">' in html
    tomorrow = client.get("/staff/bookings?view=day&date=2026-03-03").text
    assert "/arrived" not in tomorrow


def test_marking_arrived_records_the_time_audits_and_returns_to_the_calendar(
    client, owner_client, salon, session, make_booking
):
    booking = make_booking(start=berlin(MONDAY, 15), name="Mia Example")
    response = press(client, DAY_PAGE, f"/staff/bookings/{booking.id}/arrived", **FROM_CALENDAR)
    assert response.status_code == 303
    assert response.headers["Location"] == DAY_PAGE
    assert reload(session, booking).arrived_at == NOW
    assert audit_kinds(session)[-1] == "booking.arrived"
    page = client.get(DAY_PAGE).text
    assert "Mia Example is marked as arrived." in page
    assert re.search(r'class="cal-block is-arrived [^"]*">.*?Arrived', page, re.S)
    assert f'action="/staff/bookings/{booking.id}/arrived"' not in page


def test_marking_arrived_without_the_calendar_returns_to_the_booking(
    client, owner_client, salon, make_booking
):
    booking = make_booking(start=berlin(MONDAY, 15))
    response = press(client, DAY_PAGE, f"/staff/bookings/{booking.id}/arrived")
    assert response.headers["Location"] == f"/staff/bookings/{booking.id}"


def test_a_stale_calendar_address_returns_to_todays_calendar(
    client, owner_client, salon, make_booking
):
    booking = make_booking(start=berlin(MONDAY, 15))
    fields = {**FROM_CALENDAR, "return_provider": "99999", "return_date": "nonsense"}
    response = press(client, DAY_PAGE, f"/staff/bookings/{booking.id}/arrived", **fields)
    assert response.headers["Location"] == "/staff/bookings"


def test_marking_a_no_show_from_the_calendar_returns_to_it(
    client, owner_client, salon, session, make_booking
):
    booking = make_booking(start=berlin(MONDAY, 6, 30))
    response = press(client, DAY_PAGE, f"/staff/bookings/{booking.id}/no-show", **FROM_CALENDAR)
    assert response.status_code == 303
    assert response.headers["Location"] == DAY_PAGE
    assert reload(session, booking).no_show is True
    assert re.search(
        r'class="cal-block is-no-show [^"]*">.*?No-show', client.get(DAY_PAGE).text, re.S
    )


def test_an_arrived_client_cannot_also_be_a_no_show(
    client, owner_client, salon, session, make_booking
):
    booking = make_booking(start=berlin(MONDAY, 6, 30), arrived_at=NOW - timedelta(minutes=5))
    booking_page = f"/staff/bookings/{booking.id}"
    page = client.get(booking_page).text
    assert "Arrived" in page
    assert f'action="/staff/bookings/{booking.id}/no-show"' not in page
    response = press(client, booking_page, f"/staff/bookings/{booking.id}/no-show")
    assert response.status_code == 409
    assert "marked as arrived; it cannot also be a no-show" in response.text
    assert reload(session, booking).no_show is False


def test_arrived_needs_the_csrf_token(client, owner_client, salon, session, make_booking):
    booking = make_booking(start=berlin(MONDAY, 15))
    response = client.post(f"/staff/bookings/{booking.id}/arrived", data=FROM_CALENDAR)
    assert response.status_code == 400
    assert reload(session, booking).arrived_at is None
    assert "booking.arrived" not in audit_kinds(session)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"status": "cancelled"}, "Only a confirmed booking can be marked as arrived."),
        ({"status": "pending"}, "Only a confirmed booking can be marked as arrived."),
        ({"no_show": True}, "This booking is marked as a no-show; it cannot also be marked"),
        ({"arrived_at": NOW - timedelta(minutes=5)}, "This client is already marked as arrived."),
        ({"start": utc(2026, 3, 3, 8, 0)}, "This appointment is on a later day;"),
    ],
    ids=["cancelled", "pending", "no-show", "already", "tomorrow"],
)
def test_arrived_is_refused_with_409_and_a_message(
    client, owner_client, salon, session, make_booking, overrides, message
):
    booking = make_booking(**{"start": berlin(MONDAY, 6, 30), **overrides})
    before = reload(session, booking).arrived_at
    response = press(client, DAY_PAGE, f"/staff/bookings/{booking.id}/arrived", **FROM_CALENDAR)
    assert response.status_code == 409
    assert message in response.text
    assert reload(session, booking).arrived_at == before
    assert "booking.arrived" not in audit_kinds(session)


def test_arrived_of_another_business_booking_is_not_found(
    client, owner_client, salon, rival, session, make_booking
):
    theirs = make_booking(
        business=rival.business,
        service=rival.service,
        provider=rival.provider,
        start=berlin(MONDAY, 15),
        name="Rita Rival",
    )
    response = press(client, DAY_PAGE, f"/staff/bookings/{theirs.id}/arrived")
    assert response.status_code == 404
    assert reload(session, theirs).arrived_at is None


def test_arrived_needs_a_sign_in(client, salon, session, make_booking):
    booking = make_booking(start=berlin(MONDAY, 15))
    response = client.post(f"/staff/bookings/{booking.id}/arrived")
    assert response.status_code in (302, 400)
    assert reload(session, booking).arrived_at is None


def test_staff_who_are_not_owners_may_mark_arrivals(
    client, staff_client, salon, session, make_booking
):
    booking = make_booking(start=berlin(MONDAY, 15))
    response = press(client, DAY_PAGE, f"/staff/bookings/{booking.id}/arrived")
    assert response.status_code == 303
    assert reload(session, booking).arrived_at == NOW


def test_the_week_of_one_provider_has_a_column_per_day(
    client, owner_client, salon, ben, make_booking
):
    make_booking(start=berlin(TUESDAY, 10), name="Mia Example")
    make_booking(start=berlin(TUESDAY, 11), name="Ben Client", provider=ben)
    html = client.get(f"/staff/bookings?view=week&date=2026-03-03&provider={ben.id}").text
    assert 'class="cal-grid is-week"' in html
    assert "repeat(7,var(--cal-lane))" in style_block(html)
    assert "Ben Client" in grid_of(html) and "Mia Example" not in html
    # Ben works 10:00-18:00 on weekdays: the rows run from 10:00 to 18:00.
    assert '">10:00</div>' in grid_of(html) and '">09:00</div>' not in grid_of(html)
    assert f"provider={ben.id}&amp;day=2026-03-03&amp;time=11:30" in html
