"""Gift cards: issued by the owner, redeemed when booking, never beyond balance or expiry."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.booking.models import Booking
from portal.giftcards.models import GiftCard, GiftCardRedemption
from tests.conftest import NOW, csrf_token, sign_in
from tests.factories import enable_gift_cards
from tests.test_concurrency import Browser, live_server  # noqa: F401 (fixture)

CODE = "SPRING-2026-GIFT"


@pytest.fixture
def card(session, salon):
    enable_gift_cards(session, salon.business, NOW)
    card = GiftCard(
        business_id=salon.business.id,
        code="SPRING2026GIFT",
        value_cents=4000,
        balance_cents=4000,
        expires_on=date(2026, 3, 31),
        status="active",
        note="",
        created_at=NOW,
    )
    session.add(card)
    session.commit()
    return card


def book(client, salon, start="2026-03-03T09:00Z", code=CODE, email="gina@example.com"):
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start={start}"
    page = client.get(url)
    return client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Gina Gift",
            "email": email,
            "phone": "+49 30 1234567",
            "accept_terms": "y",
            "accept_policy": "y",
            "gift_card_code": code,
        },
    )


def test_the_code_field_shows_only_when_gift_cards_are_on(client, salon, session):
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    assert "Gift card code" not in client.get(url).text
    enable_gift_cards(session, salon.business, NOW)
    session.commit()
    assert "Gift card code" in client.get(url).text


def test_a_booking_records_the_redemption_up_to_the_price(client, salon, session, card):
    assert book(client, salon, code="spring 2026 gift").status_code == 303
    session.rollback()
    session.expire_all()
    card = session.get(GiftCard, card.id)
    assert card.balance_cents == 1000
    redemption = session.scalars(select(GiftCardRedemption)).one()
    assert redemption.amount_cents == 3000
    assert session.get(Booking, redemption.booking_id) is not None
    assert session.scalar(select(func.count()).where(AuditEvent.kind == "giftcard.redeemed")) == 1


def test_a_card_is_never_spent_beyond_its_balance(client, salon, session, card):
    assert book(client, salon).status_code == 303
    assert book(client, salon, start="2026-03-03T10:00Z").status_code == 303
    session.rollback()
    session.expire_all()
    assert session.get(GiftCard, card.id).balance_cents == 0
    amounts = session.scalars(select(GiftCardRedemption.amount_cents)).all()
    assert sorted(amounts) == [1000, 3000]
    refused = book(client, salon, start="2026-03-03T11:00Z")
    assert refused.status_code == 422
    assert "no balance left" in refused.text
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Booking)) == 2


def test_an_expired_card_is_refused_and_no_booking_is_made(client, salon, session, card, clock):
    clock.move_to(NOW + timedelta(days=30))  # 2026-04-01, the day after the last valid day
    response = book(client, salon, start="2026-04-02T09:00Z")
    assert response.status_code == 422
    assert "expired on 2026-03-31" in response.text
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Booking)) == 0


def test_an_unknown_code_gets_a_clear_message(client, salon, session, card):
    response = book(client, salon, code="NOPE-NOPE")
    assert response.status_code == 422
    assert "We do not know this gift card code" in response.text


def test_two_bookings_racing_with_one_card_spend_it_once(live_server, salon, session):  # noqa: F811
    enable_gift_cards(session, salon.business, NOW)
    session.add(
        GiftCard(
            business_id=salon.business.id,
            code="RACE00000001",
            value_cents=3000,
            balance_cents=3000,
            expires_on=date(2026, 12, 31),
            status="active",
            note="",
            created_at=NOW,
        )
    )
    session.commit()
    starts = ["2026-03-03T09:00Z", "2026-03-03T10:00Z", "2026-03-03T11:00Z", "2026-03-03T12:00Z"]
    browsers, forms, urls = [], [], []
    for number, start in enumerate(starts):
        browser = Browser()
        url = f"{live_server}/b/salon/services/{salon.service.id}/book?provider=any&start={start}"
        status, page = browser.request(url)
        assert status == 200
        browsers.append(browser)
        urls.append(url)
        forms.append(
            {
                "csrf_token": csrf_token(page),
                "name": f"Racer {number}",
                "email": f"racer{number}@example.com",
                "phone": "+49 30 1234567",
                "accept_terms": "y",
                "accept_policy": "y",
                "gift_card_code": "RACE-0000-0001",
            }
        )
    barrier = threading.Barrier(len(starts))
    results = [0] * len(starts)

    def run(index):
        barrier.wait()
        results[index] = browsers[index].request(urls[index], forms[index])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(starts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [303, 422, 422, 422]
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(GiftCardRedemption)) == 1
    assert session.scalar(select(GiftCard.balance_cents)) == 0


def test_owner_issues_a_card_and_staff_see_its_history(client, session, owner):
    enable_gift_cards(session, owner, NOW)
    session.commit()
    sign_in(client)
    page = client.get("/staff/gift-cards/")
    assert "Memberships: not yet available" in page.text
    bad = client.post(
        "/staff/gift-cards/issue",
        data={"csrf_token": csrf_token(page.text), "value": "-5", "expires_on": "2026-12-31"},
    )
    assert bad.status_code == 422
    assert "A card is worth 0.01 to 10,000.00." in bad.text
    past = client.post(
        "/staff/gift-cards/issue",
        data={"csrf_token": csrf_token(page.text), "value": "50", "expires_on": "2026-01-01"},
    )
    assert past.status_code == 409
    assert "The expiry date has passed" in past.text
    issued = client.post(
        "/staff/gift-cards/issue",
        data={"csrf_token": csrf_token(page.text), "value": "50.00", "expires_on": "2026-12-31"},
    )
    assert issued.status_code == 303
    session.rollback()
    session.expire_all()
    card = session.scalars(select(GiftCard)).one()
    assert (card.value_cents, card.balance_cents) == (5000, 5000)
    detail = client.get(f"/staff/gift-cards/{card.id}")
    assert "Not used yet." in detail.text
    assert client.get("/staff/gift-cards/999999999999999999999").status_code == 404


def test_gift_cards_switch_on_and_off_when_clean_history_is_off(client, session, owner):
    sign_in(client)
    page = client.get("/staff/gift-cards/")
    on = client.post(
        "/staff/gift-cards/switch", data={"csrf_token": csrf_token(page.text), "state": "on"}
    )
    assert on.status_code == 303
    assert (
        client.post(
            "/staff/gift-cards/switch", data={"csrf_token": csrf_token(page.text), "state": "x"}
        ).status_code
        == 422
    )


#: 32 letters and digits, the longest code, typed in groups as printed: 39 characters.
LONGEST_CODE = "ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345-6789"


def test_the_owner_may_type_the_longest_code_in_groups_but_no_longer_one(client, session, owner):
    enable_gift_cards(session, owner, NOW)
    session.commit()
    sign_in(client)
    page = client.get("/staff/gift-cards/")
    issue = {"csrf_token": csrf_token(page.text), "value": "20", "expires_on": "2026-12-31"}
    too_long = client.post("/staff/gift-cards/issue", data={**issue, "code": LONGEST_CODE + "A"})
    assert too_long.status_code == 422
    assert "A gift card code has at most 32 letters and digits." in too_long.text
    issued = client.post("/staff/gift-cards/issue", data={**issue, "code": LONGEST_CODE})
    assert issued.status_code == 303
    session.rollback()
    assert session.scalars(select(GiftCard.code)).one() == LONGEST_CODE.replace("-", "")


def test_a_code_longer_than_any_card_is_refused_when_booking(client, salon, session, card):
    response = book(client, salon, code=LONGEST_CODE + "A")
    assert response.status_code == 422
    assert "A gift card code has at most 32 letters and digits." in response.text
    assert session.scalar(select(func.count()).select_from(Booking)) == 0
