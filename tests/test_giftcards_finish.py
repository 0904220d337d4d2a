"""Gift cards finished: void, refund on cancellation, history, switching off, late counts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.booking.models import Booking, BookingEvent
from portal.features import GIFT_CARDS, is_on
from portal.giftcards.models import GiftCard, GiftCardEntry, GiftCardSettings
from portal.giftcards.service import card_history, return_on_cancel
from tests import factories
from tests import test_client_accounts as accounts
from tests.conftest import NOW, SLOT, STAFF_EMAIL, STAFF_PASSWORD, csrf_token, path_of, sign_in
from tests.factories import enable_gift_cards, redeem_gift_card
from tests.test_client_accounts import accounts_on, client_account, signed_in_client  # noqa: F401

CARD_CODE = "SPRING2026GIFT"
#: The salon's policy: free cancellation until 24 hours before. SLOT is 27 hours after NOW.
DEADLINE = SLOT - timedelta(hours=24)
AFTER_DEADLINE = DEADLINE + timedelta(hours=1)


# --- arranging -------------------------------------------------------------


@pytest.fixture
def card(session, salon):
    """A €40 card of the salon, gift cards on."""
    enable_gift_cards(session, salon.business, NOW)
    card = GiftCard(
        business_id=salon.business.id,
        code=CARD_CODE,
        value_cents=4000,
        balance_cents=4000,
        expires_on=date(2026, 12, 31),
        status="active",
        note="",
        created_at=NOW - timedelta(days=10),
    )
    session.add(card)
    session.commit()
    return card


def fresh(session, model, row_id):
    session.rollback()
    session.expire_all()
    return session.get(model, row_id)


def events(session, kind: str) -> list[AuditEvent]:
    session.rollback()
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id))
    )


def book_with_card(client, salon, code="spring-2026-gift"):
    """Book the €30 haircut at SLOT online, paying with the card; the manage page's path."""
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    page = client.get(url)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Gina Gift",
            "email": "gina@example.com",
            "phone": "+49 30 1234567",
            "accept_terms": "y",
            "accept_policy": "y",
            "gift_card_code": code,
        },
    )
    assert response.status_code == 303, response.text
    return path_of(response)


def the_booking(session) -> Booking:
    session.rollback()
    return session.scalars(select(Booking)).one()


def client_cancels(client, manage: str):
    page = client.get(f"{manage}/cancel")
    assert page.status_code == 200, page.text
    return client.post(f"{manage}/cancel", data={"csrf_token": csrf_token(page.text)})


def staff_post(client, page_url: str, action: str, **data):
    page = client.get(page_url)
    return client.post(action, data={"csrf_token": csrf_token(page.text), **data})


def staff_cancels(client, booking_id: int):
    page = f"/staff/bookings/{booking_id}"
    return staff_post(client, page, f"{page}/cancel", reason="The provider is ill.")


def set_rule(session, salon, rule: str) -> None:
    session.add(GiftCardSettings(business_id=salon.business.id, refund_on_cancel=rule))
    session.commit()


def void(client, card_id: int, **data):
    page = f"/staff/gift-cards/{card_id}"
    return staff_post(client, page, f"{page}/void", **data)


# --- voiding ---------------------------------------------------------------


def test_the_owner_voids_a_card_with_a_reason_and_its_balance_is_forfeited(
    owner_client, session, card
):
    response = void(owner_client, card.id, reason="Reported stolen by the buyer.")
    assert response.status_code == 303
    voided = fresh(session, GiftCard, card.id)
    assert (voided.status, voided.balance_cents) == ("void", 0)
    [event] = events(session, "giftcard.voided")
    assert event.actor_label == "owner@salon.example"
    assert event.details == {
        "card": card.id,
        "reason": "Reported stolen by the buyer.",
        "forfeited_cents": 4000,
    }
    page = owner_client.get(f"/staff/gift-cards/{card.id}").text
    assert '<span class="status status-cancelled">void</span>' in page
    assert "<dt>Forfeited when voided</dt><dd>€40.00</dd>" in page
    assert "Voided: balance forfeited" in page
    assert "Reason: Reported stolen by the buyer." in page
    assert "Void this card" not in page


def test_voiding_twice_answers_409_with_a_message(owner_client, session, card):
    assert void(owner_client, card.id, reason="Stolen.").status_code == 303
    # The void form is gone from the page now: post with a token from the list page.
    again = staff_post(
        owner_client, "/staff/gift-cards/", f"/staff/gift-cards/{card.id}/void", reason="Again."
    )
    assert again.status_code == 409
    assert "This gift card was voided before." in again.text
    assert len(events(session, "giftcard.voided")) == 1


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why the card is voided."),
        ("   ", "Give a reason of 1 to 500 characters."),
        ("x" * 501, "A reason has at most 500 characters."),
    ],
)
def test_a_void_needs_a_reason_of_at_most_500_characters(
    owner_client, session, card, reason, message
):
    response = void(owner_client, card.id, reason=reason)
    assert response.status_code == 422
    assert message in response.text
    assert fresh(session, GiftCard, card.id).status == "active"


def test_a_void_without_the_reason_field_or_csrf_token_is_refused(owner_client, session, card):
    assert void(owner_client, card.id).status_code == 422
    no_token = owner_client.post(f"/staff/gift-cards/{card.id}/void", data={"reason": "Stolen."})
    assert 400 <= no_token.status_code < 500
    assert fresh(session, GiftCard, card.id).status == "active"


def test_staff_who_are_not_the_owner_cannot_void(client, session, card, staff_member):
    assert sign_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    assert void(client, card.id, reason="Stolen.").status_code == 403
    assert "Void this card" not in client.get(f"/staff/gift-cards/{card.id}").text
    assert fresh(session, GiftCard, card.id).status == "active"


def test_another_business_card_and_huge_ids_are_404(owner_client, session, card, rival):
    theirs = GiftCard(
        business_id=rival.business.id,
        code="RIVALCARD001",
        value_cents=1000,
        balance_cents=1000,
        expires_on=date(2026, 12, 31),
        status="active",
        note="",
        created_at=NOW,
    )
    session.add(theirs)
    session.commit()
    assert owner_client.get(f"/staff/gift-cards/{theirs.id}").status_code == 404
    token = csrf_token(owner_client.get("/staff/gift-cards/").text)
    for card_id in (theirs.id, 99999999999999999999):
        refused = owner_client.post(
            f"/staff/gift-cards/{card_id}/void", data={"csrf_token": token, "reason": "Mine?"}
        )
        assert refused.status_code == 404
    assert fresh(session, GiftCard, theirs.id).status == "active"


def test_a_void_card_cannot_be_redeemed(owner_client, client, salon, session, card):
    assert void(owner_client, card.id, reason="Stolen.").status_code == 303
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    page = client.get(url)
    refused = client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Gina Gift",
            "email": "gina@example.com",
            "phone": "+49 30 1234567",
            "accept_terms": "y",
            "accept_policy": "y",
            "gift_card_code": CARD_CODE,
        },
    )
    assert refused.status_code == 422
    assert "This gift card has been cancelled by the business and cannot be used." in refused.text
    session.rollback()
    assert session.scalars(select(Booking)).all() == []


# --- refunds on cancellation -------------------------------------------------


def test_the_default_rule_is_inside_the_window_and_the_page_shows_it(owner_client, session, card):
    assert session.get(GiftCardSettings, card.business_id) is None
    page = owner_client.get("/staff/gift-cards/").text
    assert re.search(r'<input checked id="refund_on_cancel-1"[^>]*value="window"', page)


def test_a_client_cancelling_in_time_gets_the_amount_back_on_the_card(client, session, salon, card):
    manage = book_with_card(client, salon)
    assert fresh(session, GiftCard, card.id).balance_cents == 1000
    assert client_cancels(client, manage).status_code == 303
    assert fresh(session, GiftCard, card.id).balance_cents == 4000
    [entry] = session.scalars(select(GiftCardEntry)).all()
    assert (entry.kind, entry.amount_cents) == ("refund", 3000)
    [event] = events(session, "giftcard.refunded")
    assert event.details["amount_cents"] == 3000
    assert event.details["booking"] == the_booking(session).id


def test_cancelling_from_my_bookings_gives_the_amount_back_too(
    client,
    session,
    card,
    signed_in_client,  # noqa: F811 (fixture)
):
    salon = signed_in_client
    response = accounts.book(client, salon.service.id, gift_card_code=CARD_CODE)
    assert response.status_code == 303
    assert fresh(session, GiftCard, card.id).balance_cents == 1000
    booking = the_booking(session)
    assert (
        accounts.cancel(client, booking.id, accounts.my_bookings_token(client)).status_code == 302
    )
    assert fresh(session, GiftCard, card.id).balance_cents == 4000
    assert [e.kind for e in session.scalars(select(GiftCardEntry))] == ["refund"]


def test_with_the_never_rule_a_client_cancellation_keeps_the_amount(client, session, salon, card):
    set_rule(session, salon, "never")
    manage = book_with_card(client, salon)
    assert client_cancels(client, manage).status_code == 303
    assert fresh(session, GiftCard, card.id).balance_cents == 1000
    [entry] = session.scalars(select(GiftCardEntry)).all()
    assert (entry.kind, entry.amount_cents, entry.reason) == ("forfeit", 3000, "never")
    assert len(events(session, "giftcard.forfeited")) == 1


def test_staff_cancelling_after_the_deadline_keeps_the_amount_by_default(
    client, app, session, salon, card, owner, clock
):
    book_with_card(client, salon)
    booking = the_booking(session)
    clock.move_to(AFTER_DEADLINE)
    staff = app.test_client()
    assert sign_in(staff).status_code == 302
    assert staff_cancels(staff, booking.id).status_code == 303
    assert fresh(session, GiftCard, card.id).balance_cents == 1000
    [entry] = session.scalars(select(GiftCardEntry)).all()
    assert (entry.kind, entry.reason) == ("forfeit", "late")
    page = staff.get(f"/staff/gift-cards/{card.id}").text
    assert "Kept: booking cancelled" in page
    assert "cancelled after the free-cancellation deadline" in page


def test_staff_cancelling_before_the_deadline_gives_the_amount_back(
    client, app, session, salon, card, owner, clock
):
    book_with_card(client, salon)
    booking = the_booking(session)
    clock.move_to(DEADLINE - timedelta(minutes=1))
    staff = app.test_client()
    assert sign_in(staff).status_code == 302
    assert staff_cancels(staff, booking.id).status_code == 303
    assert fresh(session, GiftCard, card.id).balance_cents == 4000


def test_with_the_always_rule_even_a_late_staff_cancellation_gives_it_back(
    client, app, session, salon, card, owner, clock
):
    set_rule(session, salon, "always")
    book_with_card(client, salon)
    booking = the_booking(session)
    clock.move_to(AFTER_DEADLINE)
    staff = app.test_client()
    assert sign_in(staff).status_code == 302
    assert staff_cancels(staff, booking.id).status_code == 303
    assert fresh(session, GiftCard, card.id).balance_cents == 4000


def test_a_declined_request_always_gets_its_amount_back(client, app, session, salon, card, owner):
    set_rule(session, salon, "never")
    salon.business.approve_bookings = True
    session.commit()
    book_with_card(client, salon)
    booking = the_booking(session)
    assert booking.status == "pending"
    staff = app.test_client()
    assert sign_in(staff).status_code == 302
    page = f"/staff/bookings/{booking.id}"
    assert staff_post(staff, page, f"{page}/decline", reason="Fully booked.").status_code == 303
    assert fresh(session, GiftCard, card.id).balance_cents == 4000


def test_a_void_card_gets_nothing_back_and_the_forfeit_shows_in_its_history(
    client, app, session, salon, card, owner
):
    manage = book_with_card(client, salon)
    staff = app.test_client()
    assert sign_in(staff).status_code == 302
    assert void(staff, card.id, reason="Stolen.").status_code == 303
    assert client_cancels(client, manage).status_code == 303
    voided = fresh(session, GiftCard, card.id)
    assert (voided.status, voided.balance_cents) == ("void", 0)
    kinds = [(e.kind, e.amount_cents) for e in session.scalars(select(GiftCardEntry))]
    assert kinds == [("void", 1000), ("forfeit", 3000)]
    page = staff.get(f"/staff/gift-cards/{card.id}").text
    assert "the card is void" in page


def test_a_redemption_is_settled_once(session, salon, card, make_booking):
    """Cancelling again (a retried request) never gives the same money back twice."""
    booking = make_booking(status="cancelled", cancelled_at=NOW, cancelled_by="client")
    other = redeem_gift_card(session, booking, "OTHERCARD01", created_at=NOW)
    session.commit()
    assert len(return_on_cancel(session, booking, NOW)) == 1
    assert return_on_cancel(session, booking, NOW) == []
    session.commit()
    assert fresh(session, GiftCard, other.id).balance_cents == 5000


def test_the_owner_changes_the_rule_audited_and_bad_choices_get_422(owner_client, session, card):
    saved = staff_post(
        owner_client, "/staff/gift-cards/", "/staff/gift-cards/refunds", refund_on_cancel="always"
    )
    assert saved.status_code == 303
    assert session.get(GiftCardSettings, card.business_id).refund_on_cancel == "always"
    [event] = events(session, "settings.changed")
    assert event.details == {
        "area": "gift_cards",
        "changes": {"refund_on_cancel": ["window", "always"]},
    }
    for bad in ("sometimes", ""):
        refused = staff_post(
            owner_client, "/staff/gift-cards/", "/staff/gift-cards/refunds", refund_on_cancel=bad
        )
        assert refused.status_code == 422
    assert "Choose one of the rules." in refused.text


# --- history -----------------------------------------------------------------


def test_the_history_lists_issue_redemption_refund_with_running_balance_in_local_time(
    client, app, session, salon, card, owner, clock
):
    manage = book_with_card(client, salon)  # NOW: 07:00 in Berlin
    clock.move_to(NOW + timedelta(hours=1))
    assert client_cancels(client, manage).status_code == 303
    booking = the_booking(session)
    lines = card_history(session, fresh(session, GiftCard, card.id))
    assert [(ln.kind, ln.change_cents, ln.balance_cents) for ln in lines] == [
        ("issued", 4000, 4000),
        ("redeemed", -3000, 1000),
        ("refund", 3000, 4000),
    ]
    staff = app.test_client()
    assert sign_in(staff).status_code == 302
    page = staff.get(f"/staff/gift-cards/{card.id}").text
    rows = re.findall(r'<tr class="history-(\w+)">(.*?)</tr>', page, re.S)
    assert [kind for kind, _ in rows] == ["issued", "redeemed", "refund"]
    redeemed, refund = rows[1][1], rows[2][1]
    assert f'href="/staff/bookings/{booking.id}"' in redeemed
    assert "07:00" in redeemed  # 06:00 UTC is 07:00 in Berlin
    assert "−€30.00" in redeemed and "<td>€10.00</td>" in redeemed
    assert "08:00" in refund and "+€30.00" in refund and "<td>€40.00</td>" in refund
    assert "Times in Europe/Berlin." in page


# --- switching off -----------------------------------------------------------


def test_switching_off_with_balances_needs_the_confirmation_that_names_the_cards(
    owner_client, session, card
):
    refused = staff_post(
        owner_client, "/staff/gift-cards/", "/staff/gift-cards/switch", state="off"
    )
    assert refused.status_code == 409
    assert "Some gift cards still hold a balance." in refused.text
    assert "SPRI-NG20-26GI-FT" in refused.text and "€40.00" in refused.text
    assert "Their balances stay recorded." in refused.text
    assert "the same cards work again with the same balances" in refused.text
    session.rollback()
    assert is_on(session, card.business_id, GIFT_CARDS)
    confirmed = owner_client.post(
        "/staff/gift-cards/switch",
        data={"csrf_token": csrf_token(refused.text), "state": "off", "confirm": "y"},
    )
    assert confirmed.status_code == 303
    session.rollback()
    assert not is_on(session, card.business_id, GIFT_CARDS)
    assert fresh(session, GiftCard, card.id).balance_cents == 4000
    [event] = [e for e in events(session, "settings.changed") if e.details["area"] == "features"]
    assert event.details["changes"] == {"gift_cards": [True, False]}
    assert event.details["cards_with_balance"] == [{"card": card.id, "balance_cents": 4000}]


def test_switching_off_without_balances_needs_no_confirmation(owner_client, session, card):
    card.balance_cents = 0
    session.commit()
    off = staff_post(owner_client, "/staff/gift-cards/", "/staff/gift-cards/switch", state="off")
    assert off.status_code == 303


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "nan", "sNaN", "Infinity", "-inf", "fifty", "1e999"])
def test_a_card_value_that_is_no_amount_gets_422(owner_client, session, card, value):
    page = owner_client.get("/staff/gift-cards/")
    response = owner_client.post(
        "/staff/gift-cards/issue",
        data={"csrf_token": csrf_token(page.text), "value": value, "expires_on": "2026-12-31"},
    )
    assert response.status_code == 422
    session.rollback()
    assert len(session.scalars(select(GiftCard)).all()) == 1


# --- late-cancellation counts --------------------------------------------------


def test_the_dashboard_and_the_client_page_count_late_cancellations_alike(
    owner_client, session, salon
):
    first = factories.make_booking(
        session,
        business=salon.business,
        service=salon.service,
        provider=salon.provider,
        start=SLOT,
        created_at=NOW - timedelta(days=1),
    )
    second = factories.make_booking(
        session,
        business=salon.business,
        service=salon.service,
        provider=salon.provider,
        start=SLOT + timedelta(hours=2),
        created_at=NOW - timedelta(days=1),
    )
    presses = [
        (first, "late_cancel_refused", NOW - timedelta(minutes=30)),
        (first, "late_cancel_refused", NOW - timedelta(minutes=20)),  # pressed again: one
        (second, "late_cancel_refused", NOW - timedelta(minutes=10)),
        (second, "late_reschedule_refused", NOW - timedelta(minutes=5)),  # a move, not counted
    ]
    for booking, kind, at in presses:
        session.add(
            BookingEvent(
                business_id=salon.business.id,
                booking_id=booking.id,
                client_id=booking.client_id,
                kind=kind,
                created_at=at,
            )
        )
    session.commit()
    dashboard = owner_client.get("/staff/").text
    [on_dashboard] = re.findall(r"Week of 0?2 Mar: (\d+) refused late cancellations?<", dashboard)
    client_page = owner_client.get(f"/staff/clients/{first.client_id}").text
    [on_client] = re.findall(r"<dt>Refused late cancellations</dt><dd>(\d+)</dd>", client_page)
    assert on_dashboard == on_client == "2"
