"""Booking and cancellation rules, called as domain functions with a moved clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.booking.models import CANCELLED, CONFIRMED
from portal.booking.service import (
    AlreadyCancelled,
    CancellationTooLate,
    ClientDetails,
    ConsentMissing,
    Consents,
    SlotTaken,
    SlotUnavailable,
    book,
    cancel_by_client,
    find_booking_by_token,
)
from portal.clock import utcnow
from portal.policies.service import current_policy, current_terms
from portal.tokens import hash_token
from tests.conftest import NOW
from tests.factories import (
    enable_policy,
    make_business,
    make_provider,
    make_service,
)

#: Tuesday 3 March 2026, 10:00 in Berlin: a free slot the day after NOW.
SLOT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
#: When the client books: Monday morning, an hour after NOW.
BOOKED_AT = NOW + timedelta(hours=1)
#: The salon's policy lets clients cancel until 24 hours before the start.
DEADLINE = SLOT - timedelta(hours=24)
JUST_BEFORE_DEADLINE = DEADLINE - timedelta(seconds=1)
JUST_AFTER_DEADLINE = DEADLINE + timedelta(seconds=1)
JUST_BEFORE_START = SLOT - timedelta(seconds=1)
SLOT_END = SLOT + timedelta(minutes=30)

IP = "203.0.113.7"
MIA = ClientDetails(name="Mia Example", email="Mia@Example.com", phone="+49 30 1234567")
NOAH = ClientDetails(name="Noah Example", email="noah@example.com", phone="")


def consents(session, business, *, terms=True, policy=True) -> Consents:
    return Consents(
        terms=current_terms(session, business) if terms else None,
        policy=current_policy(session, business) if policy else None,
        ip_address=IP,
    )


def book_slot(session, salon, start=SLOT, *, provider="salon", details=MIA):
    """Book through the domain function as the confirm view does; "salon" means its provider."""
    chosen = salon.provider if provider == "salon" else provider
    return book(
        session,
        salon.business,
        salon.service,
        chosen,
        start,
        details,
        consents(session, salon.business),
        utcnow(),
    )


# Booking


def test_booking_records_consent_versions_time_and_address(session, salon, clock):
    clock.move_to(BOOKED_AT)
    booking, token = book_slot(session, salon)
    assert booking.status == CONFIRMED
    assert booking.provider_id == salon.provider.id
    assert (booking.start_at, booking.end_at) == (SLOT, SLOT_END)
    assert booking.occupied_until == SLOT_END
    assert booking.created_at == BOOKED_AT
    assert booking.manage_token_hash == hash_token(token)
    assert booking.client.email == "mia@example.com"
    terms = current_terms(session, salon.business)
    policy = current_policy(session, salon.business)
    assert booking.policy_version_id == policy.id
    assert [(c.kind, c.terms_version_id, c.policy_version_id) for c in booking.consents] == [
        ("terms", terms.id, None),
        ("cancellation_policy", None, policy.id),
    ]
    assert all(c.accepted_at == BOOKED_AT for c in booking.consents)
    assert all(c.ip_address == IP for c in booking.consents)


def test_booking_holds_the_services_buffer(session, salon, clock):
    salon.service.buffer_minutes = 15
    booking, _ = book_slot(session, salon)
    assert booking.occupied_until == SLOT_END + timedelta(minutes=15)


def test_a_returning_client_is_recognised_by_email(session, salon, clock):
    first, _ = book_slot(session, salon)
    again = ClientDetails(name="Mia", email=" mia@EXAMPLE.com ", phone="")
    second, _ = book_slot(session, salon, SLOT + timedelta(hours=1), details=again)
    assert second.client_id == first.client_id


@pytest.mark.parametrize(
    ("terms", "policy", "missing"),
    [
        (False, True, "terms"),
        (True, False, "cancellation_policy"),
        (False, False, "terms"),
    ],
)
def test_booking_without_a_required_consent_is_refused(
    session, salon, clock, terms, policy, missing
):
    given = consents(session, salon.business, terms=terms, policy=policy)
    with pytest.raises(ConsentMissing, match=missing):
        book(session, salon.business, salon.service, salon.provider, SLOT, MIA, given, utcnow())
    assert not session.new


def test_booking_needs_no_consent_when_the_business_asks_none(session, salon, clock):
    salon.business.terms_enabled = False
    salon.business.cancellation_policy_enabled = False
    nothing = Consents(terms=None, policy=None, ip_address=IP)
    booking, _ = book(
        session, salon.business, salon.service, salon.provider, SLOT, MIA, nothing, utcnow()
    )
    assert booking.consents == []
    assert booking.policy_version_id is None


@pytest.mark.parametrize(
    ("start", "now"),
    [
        pytest.param(SLOT + timedelta(minutes=10), NOW, id="misaligned"),
        pytest.param(SLOT + timedelta(minutes=1), NOW, id="off-grid-by-a-minute"),
        pytest.param(datetime(2026, 3, 3, 7, 0, tzinfo=UTC), NOW, id="before-opening"),
        pytest.param(datetime(2026, 3, 3, 16, 0, tzinfo=UTC), NOW, id="at-closing"),
        pytest.param(datetime(2026, 3, 3, 17, 0, tzinfo=UTC), NOW, id="after-closing"),
        pytest.param(SLOT, SLOT + timedelta(hours=2), id="in-the-past"),
        pytest.param(SLOT, SLOT - timedelta(minutes=59), id="inside-the-minimum-notice"),
        pytest.param(datetime(2026, 4, 2, 8, 0, tzinfo=UTC), NOW, id="beyond-max-days-ahead"),
    ],
)
def test_a_time_the_business_does_not_offer_is_unavailable(session, salon, clock, start, now):
    clock.move_to(now)
    with pytest.raises(SlotUnavailable):
        book_slot(session, salon, start)


def test_the_last_day_ahead_and_the_notice_limit_can_be_booked(session, salon, clock):
    last_day = datetime(2026, 4, 1, 7, 0, tzinfo=UTC)  # 09:00 CEST, 30 days after NOW
    assert book_slot(session, salon, last_day)[0].start_at == last_day
    clock.move_to(SLOT - timedelta(minutes=60))
    assert book_slot(session, salon, SLOT, details=NOAH)[0].start_at == SLOT


def test_a_day_off_cannot_be_booked(session, salon, clock):
    other = make_provider(
        session, salon.business, [salon.service], name="Kim", days_off=[SLOT.date()]
    )
    with pytest.raises(SlotUnavailable):
        book_slot(session, salon, provider=other)


def test_a_time_held_by_another_booking_is_taken(session, salon, clock):
    book_slot(session, salon)
    with pytest.raises(SlotTaken):
        book_slot(session, salon, details=NOAH)


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(timedelta(minutes=30), id="starts-in-the-buffer-after"),
        pytest.param(timedelta(minutes=-30), id="own-buffer-runs-into-it"),
    ],
)
def test_a_time_overlapping_a_bookings_buffer_is_taken(session, salon, clock, offset):
    salon.service.buffer_minutes = 30
    book_slot(session, salon)
    with pytest.raises(SlotTaken):
        book_slot(session, salon, SLOT + offset, details=NOAH)
    assert book_slot(session, salon, SLOT + timedelta(hours=1), details=NOAH)[0].start_at == (
        SLOT + timedelta(hours=1)
    )


def test_a_cancelled_booking_does_not_hold_its_time(session, salon, clock):
    booking, _ = book_slot(session, salon)
    cancel_by_client(session, booking, utcnow())
    assert book_slot(session, salon, details=NOAH)[0].start_at == SLOT


def test_any_provider_fills_the_providers_in_turn(session, salon, clock):
    sam = make_provider(session, salon.business, [salon.service], name="Sam")
    first, _ = book_slot(session, salon, provider=None)
    second, _ = book_slot(session, salon, provider=None, details=NOAH)
    assert (first.provider_id, second.provider_id) == (salon.provider.id, sam.id)
    with pytest.raises(SlotTaken):
        book_slot(session, salon, provider=None, details=MIA)


def test_a_chosen_provider_is_not_swapped_for_a_free_one(session, salon, clock):
    make_provider(session, salon.business, [salon.service], name="Sam")
    book_slot(session, salon)
    with pytest.raises(SlotTaken):
        book_slot(session, salon, details=NOAH)


# Cancelling


def test_cancellation_inside_the_window_is_accepted(session, salon, clock):
    booking, _ = book_slot(session, salon)
    clock.move_to(JUST_BEFORE_DEADLINE)
    cancel_by_client(session, booking, utcnow())
    assert booking.status == CANCELLED
    assert booking.cancelled_at == JUST_BEFORE_DEADLINE
    assert booking.cancelled_by == "client"


@pytest.mark.parametrize(
    "when",
    [
        pytest.param(DEADLINE, id="at-the-deadline"),
        pytest.param(JUST_AFTER_DEADLINE, id="just-after-the-deadline"),
        pytest.param(JUST_BEFORE_START, id="just-before-the-start"),
    ],
)
def test_cancellation_after_the_deadline_is_refused(session, salon, clock, when):
    booking, _ = book_slot(session, salon)
    clock.move_to(when)
    with pytest.raises(CancellationTooLate) as refused:
        cancel_by_client(session, booking, utcnow())
    assert refused.value.deadline == DEADLINE
    assert booking.status == CONFIRMED
    assert booking.cancelled_at is None


def test_a_never_policy_refuses_every_cancellation(session, salon, clock):
    enable_policy(session, salon.business, mode="never", summary="No cancellations.")
    booking, _ = book_slot(session, salon)
    with pytest.raises(CancellationTooLate) as refused:
        cancel_by_client(session, booking, utcnow())
    assert refused.value.deadline is None
    assert booking.status == CONFIRMED


def test_an_any_time_policy_allows_cancelling_until_the_start(session, salon, clock):
    enable_policy(session, salon.business, mode="any_time", summary="Cancel any time.")
    booking, _ = book_slot(session, salon)
    clock.move_to(JUST_BEFORE_START)
    cancel_by_client(session, booking, utcnow())
    assert booking.status == CANCELLED


def test_an_any_time_policy_refuses_once_the_appointment_started(session, salon, clock):
    enable_policy(session, salon.business, mode="any_time", summary="Cancel any time.")
    booking, _ = book_slot(session, salon)
    clock.move_to(SLOT)
    with pytest.raises(CancellationTooLate) as refused:
        cancel_by_client(session, booking, utcnow())
    assert refused.value.deadline == SLOT


def test_a_booking_without_a_policy_can_be_cancelled_until_the_start(session, salon, clock):
    salon.business.cancellation_policy_enabled = False
    no_policy = Consents(terms=current_terms(session, salon.business), policy=None, ip_address=IP)
    booking, _ = book(
        session, salon.business, salon.service, salon.provider, SLOT, MIA, no_policy, utcnow()
    )
    assert booking.cancel_deadline() == SLOT
    clock.move_to(JUST_BEFORE_START)
    cancel_by_client(session, booking, utcnow())
    assert booking.status == CANCELLED


def test_cancelling_twice_is_refused(session, salon, clock):
    booking, _ = book_slot(session, salon)
    cancel_by_client(session, booking, utcnow())
    clock.move_to(JUST_AFTER_DEADLINE)
    with pytest.raises(AlreadyCancelled):
        cancel_by_client(session, booking, utcnow())
    assert booking.cancelled_at == NOW


def test_a_booking_keeps_the_policy_version_it_accepted(session, salon, clock):
    booking, _ = book_slot(session, salon)
    stricter = enable_policy(
        session, salon.business, notice_minutes=72 * 60, summary="Cancel until 3 days before."
    )
    later, _ = book_slot(session, salon, SLOT + timedelta(hours=1), details=NOAH)
    session.commit()
    session.expire_all()  # read both back from the database
    assert booking.policy_version.version == 1
    assert later.policy_version_id == stricter.id
    assert booking.cancel_deadline() == DEADLINE
    assert later.cancel_deadline() == later.start_at - timedelta(hours=72)
    clock.move_to(JUST_BEFORE_DEADLINE)
    cancel_by_client(session, booking, utcnow())
    with pytest.raises(CancellationTooLate):
        cancel_by_client(session, later, utcnow())


def test_a_more_lenient_new_policy_does_not_reopen_an_old_deadline(session, salon, clock):
    booking, _ = book_slot(session, salon)
    enable_policy(session, salon.business, mode="any_time", summary="Cancel any time.")
    clock.move_to(JUST_AFTER_DEADLINE)
    with pytest.raises(CancellationTooLate):
        cancel_by_client(session, booking, utcnow())


# Manage links


def test_the_manage_token_opens_its_booking(session, salon, clock):
    booking, token = book_slot(session, salon)
    assert find_booking_by_token(session, salon.business, token, utcnow()) is booking


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 101])
def test_a_wrong_token_opens_nothing(session, salon, clock, token):
    book_slot(session, salon)
    assert find_booking_by_token(session, salon.business, token, utcnow()) is None


def test_another_business_token_opens_nothing(session, salon, clock):
    other = make_business(session, slug="other", name="Other Salon")
    other_service = make_service(session, other)
    other_provider = make_provider(session, other, [other_service])
    _, token = book(
        session,
        other,
        other_service,
        other_provider,
        SLOT,
        MIA,
        Consents(terms=None, policy=None, ip_address=IP),
        utcnow(),
    )
    assert find_booking_by_token(session, other, token, utcnow()) is not None
    assert find_booking_by_token(session, salon.business, token, utcnow()) is None


def test_a_manage_link_expires_when_the_appointment_ends(session, salon, clock):
    booking, token = book_slot(session, salon)
    clock.move_to(SLOT_END - timedelta(seconds=1))
    assert find_booking_by_token(session, salon.business, token, utcnow()) is booking
    clock.move_to(SLOT_END)
    assert find_booking_by_token(session, salon.business, token, utcnow()) is None


def test_a_cancelled_booking_stays_visible_until_its_end(session, salon, clock):
    booking, token = book_slot(session, salon)
    cancel_by_client(session, booking, utcnow())
    found = find_booking_by_token(session, salon.business, token, utcnow())
    assert found is booking
    assert found.is_cancelled
