"""The slot picker over HTTP: one month at a time, times at #times, bad addresses refused.

The salon takes bookings 30 days ahead; the clock stands on Monday 2 March 2026,
07:00 in Berlin, so the window runs from 2 March to 1 April.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from portal.booking import availability
from portal.catalog.models import DayOff
from tests.conftest import csrf_token, path_of
from tests.factories import CONSENTS, DETAILS, make_provider, make_service

DAY_LINK = re.compile(r'class="day[^"]*"[^>]* href="[^"]*[?;]day=(\d{4}-\d\d-\d\d)#times"')
UNAVAILABLE = re.compile(r'<li class="day unavailable"[^>]*>(.*?)</li>', re.S)
PROVIDER_LINK = re.compile(r'<a class="chip" href="([^"]+)"( aria-current="true")?>([^<]+)</a>')


def slot_page(client, salon, query: str = ""):
    return client.get(f"/b/salon/services/{salon.service.id}{query}")


def linked_days(html: str) -> list[str]:
    return DAY_LINK.findall(html)


def test_the_page_shows_one_month_with_links_to_its_free_days(client, salon):
    page = slot_page(client, salon)
    assert page.status_code == 200
    html = page.text
    assert '<h2 id="month-title">March 2026</h2>' in html
    assert 'aria-label="Days in March 2026"' in html
    days = linked_days(html)
    # 2 March (07:00, one hour's notice) to 31 March, every day open from 09:00 to 17:00.
    assert days == [f"2026-03-{n:02d}" for n in range(2, 32)]
    assert "2026-04-01" not in html  # the next month is not computed, nor linked
    # The first free day is chosen, its times shown beside the month.
    assert 'aria-current="date" href="/b/salon/services/' in html
    assert "Free times on Monday, 02 March 2026" in html
    assert ">09:00<" in html


def test_days_without_free_times_are_marked_not_linked(client, salon, session):
    session.add(DayOff(provider_id=salon.provider.id, day=date(2026, 3, 8)))
    session.commit()
    html = slot_page(client, salon).text
    assert "2026-03-08" not in linked_days(html)
    assert "2026-03-01" not in linked_days(html)  # before the window
    unavailable = UNAVAILABLE.findall(html)
    assert len(unavailable) == 2  # 1 March (past) and 8 March (day off)
    assert all("(no free times)" in cell for cell in unavailable)
    assert all('class="visually-hidden"' in cell for cell in unavailable)


def test_previous_and_next_month_links_stay_inside_the_window(client, salon):
    march = slot_page(client, salon).text
    assert "month=2026-04" in march and 'rel="next"' in march
    assert 'rel="prev"' not in march  # February has no bookable day
    april = slot_page(client, salon, "?month=2026-04").text
    assert '<h2 id="month-title">April 2026</h2>' in april
    assert linked_days(april) == ["2026-04-01"]  # the window ends on 1 April
    assert "month=2026-03" in april and 'rel="prev"' in april
    assert 'rel="next"' not in april
    assert "Free times on Wednesday, 01 April 2026" in april


def test_a_chosen_day_shows_its_month_and_times(client, salon):
    html = slot_page(client, salon, "?day=2026-03-20").text
    assert '<h2 id="month-title">March 2026</h2>' in html
    assert re.search(r'aria-current="date" href="[^"]*day=2026-03-20#times"', html)
    assert "Free times on Friday, 20 March 2026" in html
    assert "start=2026-03-20T08:00Z" in html


def test_a_chosen_day_marks_its_week_for_the_phone_strip(client, salon):
    html = slot_page(client, salon, "?day=2026-03-20").text  # a Friday
    assert 'class="calendar week-strip"' in html
    # March 2026 starts on a Sunday: the week of the 20th runs from the 16th to the 22nd.
    calendar = re.search(r'<ul class="calendar week-strip".*?</ul>', html, re.S).group(0)
    cells = [cell.group(0) for cell in re.finditer(r"<li\b.*?</li>", calendar, re.S)]
    assert len(cells) == 6 + 31
    in_strip = [n - 6 + 1 for n, cell in enumerate(cells) if "other-week" not in cell]
    assert in_strip == list(range(16, 23))
    assert re.search(r'class="whole-month"><a href="[^"]*month=2026-03[^"]*#calendar"', html)

    month = slot_page(client, salon, "?month=2026-03").text
    assert "week-strip" not in month and "other-week" not in month


def test_day_and_provider_links_open_the_page_at_the_times(client, salon, session):
    other = make_provider(session, salon.business, [salon.service], name="Bea")
    session.commit()
    html = slot_page(client, salon, "?day=2026-03-04").text
    providers = PROVIDER_LINK.findall(html)
    assert [name for _href, _current, name in providers] == ["Any available", "Alex", "Bea"]
    assert [bool(current) for _href, current, _name in providers] == [True, False, False]
    for href, _current, _name in providers:
        assert href.endswith("#times")
        assert "day=2026-03-04" in href  # a provider link keeps the chosen day
    assert f"provider={other.id}" in providers[2][0]
    # One tap on Bea: her times, her link current.
    bea = client.get(providers[2][0].replace("&amp;", "&").removesuffix("#times")).text
    assert [bool(c) for _h, c, _n in PROVIDER_LINK.findall(bea)] == [False, False, True]
    day_links = re.findall(r'<a class="day[^"]*"[^>]* href="([^"]+)"', html)
    assert len(day_links) == 30
    assert all(link.endswith("#times") for link in day_links)


def test_the_skip_link_to_the_times_comes_first_in_the_content(client, salon):
    html = slot_page(client, salon).text
    main = html[html.index('<main id="main"') :]
    first_link = re.search(r"<a [^>]*>", main).group(0)
    assert 'href="#times"' in first_link and "skip-link" in first_link
    assert "Skip to times" in main
    assert 'id="times"' in main


def test_a_month_without_free_times_says_so_and_offers_the_next(client, salon, session):
    for n in range(2, 32):
        session.add(DayOff(provider_id=salon.provider.id, day=date(2026, 3, n)))
    session.commit()
    # Nothing chosen: the page moves on to April by itself.
    html = slot_page(client, salon).text
    assert '<h2 id="month-title">April 2026</h2>' in html
    assert "Free times on Wednesday, 01 April 2026" in html
    # March asked for: it says so, and offers April.
    march = slot_page(client, salon, "?month=2026-03").text
    assert "No free times in March 2026." in march
    assert "Show April 2026" in march


# The cost: only the month shown is computed, whatever the window.


@pytest.fixture
def scans(monkeypatch) -> list[tuple[date, date]]:
    """The day ranges the availability scan covers, in the order it ran them."""
    ranges: list[tuple[date, date]] = []
    real = availability._scan

    def recording(schedule, business, service, first_day, last_day, **options):
        ranges.append((first_day, last_day))
        return real(schedule, business, service, first_day, last_day, **options)

    monkeypatch.setattr(availability, "_scan", recording)
    return ranges


@pytest.mark.parametrize("query", ["", "?day=2026-03-10", "?month=2026-03"])
def test_the_slot_page_computes_the_same_whatever_the_window(client, salon, session, scans, query):
    salon.business.max_days_ahead = 42
    session.commit()
    assert slot_page(client, salon, query).status_code == 200
    short_window = list(scans)
    scans.clear()
    salon.business.max_days_ahead = 365
    session.commit()
    assert slot_page(client, salon, query).status_code == 200
    assert scans == short_window
    # The month shown and the chosen day: nothing past 31 March.
    assert max(last for _first, last in scans) <= date(2026, 3, 31)
    assert all((last - first).days <= 30 for first, last in scans)


def test_the_reschedule_page_computes_only_its_month(client, salon, session, scans):
    salon.business.max_days_ahead = 365
    session.commit()
    manage_path = book(client, salon)
    scans.clear()
    page = client.get(f"{manage_path}/reschedule?month=2026-05")
    assert page.status_code == 200
    assert '<h2 id="month-title">May 2026</h2>' in page.text
    assert scans and all(
        date(2026, 5, 1) <= first <= last <= date(2026, 5, 31) for first, last in scans
    )
    assert "day=2026-05-04#times" in page.text


def book(client, salon) -> str:
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    token = csrf_token(client.get(url).text)
    response = client.post(url, data={"csrf_token": token, **DETAILS, **CONSENTS})
    assert response.status_code == 303
    return path_of(response)


# Bad addresses: a 4xx with a message, never a 500.


@pytest.mark.parametrize(
    "month",
    ["2026-13", "2026-00", "2026-3", "26-03", "march", "2026-03-01", "２０２６-03", "x" * 300],
)
def test_a_malformed_month_is_a_bad_request(client, salon, month):
    response = slot_page(client, salon, f"?month={month}")
    assert response.status_code == 400
    assert "That month is not valid." in response.text


@pytest.mark.parametrize("month", ["2026-02", "2026-05", "0001-01", "9999-12"])
def test_a_month_outside_the_window_is_a_bad_request(client, salon, month):
    response = slot_page(client, salon, f"?month={month}")
    assert response.status_code == 400
    assert "No bookings are taken in that month." in response.text


@pytest.mark.parametrize("day", ["0000-00-00", "2026-03-32", "2026-3-4"])
def test_a_malformed_day_is_a_bad_request(client, salon, day):
    response = slot_page(client, salon, f"?day={day}")
    assert response.status_code == 400
    assert "That date is not valid." in response.text


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2026-03-01", "That day has passed or is too soon to book."),
        ("2026-04-02", "Bookings open 30 days ahead."),
    ],
)
def test_a_day_outside_the_window_is_a_bad_request(client, salon, day, message):
    response = slot_page(client, salon, f"?day={day}")
    assert response.status_code == 400
    assert message in response.text


def test_a_provider_of_another_business_is_not_found(client, salon, rival):
    response = slot_page(client, salon, f"?provider={rival.provider.id}&month=2026-03")
    assert response.status_code == 404
    assert "That provider does not offer this service." in response.text


def test_the_reschedule_page_refuses_a_bad_month(client, salon):
    manage_path = book(client, salon)
    for month, status in [("2026-13", 400), ("2027-06", 400)]:
        assert client.get(f"{manage_path}/reschedule?month={month}").status_code == status


# A free service, and the business's own "not found" page.


def test_a_free_service_says_free_not_zero(client, salon, session):
    consult = make_service(session, salon.business, name="Consultation", price_cents=0)
    salon.provider.services.append(consult)
    session.commit()
    services = client.get("/b/salon/").text
    assert "Free" in services
    assert "€0.00" not in services
    html = client.get(f"/b/salon/services/{consult.id}").text
    assert "15 min · Free" in html or "30 min · Free" in html
    german = client.get(f"/b/salon/services/{consult.id}", headers={"Accept-Language": "de"})
    assert "0,00" not in german.text


def test_a_wrong_address_under_a_business_gets_its_own_not_found_page(client, salon):
    response = client.get("/b/salon/no-such-page")
    assert response.status_code == 404
    assert "Salon Test" in response.text
    assert 'href="/b/salon/"' in response.text
    nested = client.get("/b/salon/services/1/nothing/here")
    assert nested.status_code == 404
    assert 'href="/b/salon/"' in nested.text


def test_a_wrong_business_keeps_the_generic_not_found_page(client, salon):
    response = client.get("/b/ghost/no-such-page")
    assert response.status_code == 404
    assert "Salon Test" not in response.text
    assert 'href="/b/ghost/' not in response.text
    unknown = client.get("/b/ghost/")
    assert unknown.status_code == 404
    assert "There is no business at this address." in unknown.text
