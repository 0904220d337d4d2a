"""Issue 14: deadlines on the details step, the cancel step, and the owner's client fields."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.booking.models import Booking, BookingConsent, BookingEvent
from portal.businesses.models import Business
from portal.clients.models import Client
from portal.mail.models import OutboxMessage
from portal.mail.outbox import _box
from portal.policies.service import publish_policy
from tests.conftest import NOW, OWNER_PASSWORD, SLOT, csrf_token, outbox, path_of, sign_in
from tests.factories import CONSENTS, DETAILS, enable_policy, redeem_gift_card
from tests.test_hipaa import set_hipaa

#: SLOT (Tuesday 3 March, 10:00 in Berlin): its 24-hour deadlines are Monday 10:00, after NOW.
SLOT_PARAM = "2026-03-03T09:00Z"
#: Monday 2 March, 14:00 in Berlin: bookable at NOW, but its deadlines ended on Sunday.
TODAY_PARAM = "2026-03-02T13:00Z"
TODAY = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
#: A minute after SLOT's deadlines (Monday 10:01 in Berlin).
JUST_AFTER_SLOT_DEADLINE = SLOT - timedelta(hours=24) + timedelta(minutes=1)

NOTES = "Allergic to lavender oil; please use the unscented shampoo."
REASON = "My train is cancelled, so I cannot make it."

PASSED_WARNING = "The free-cancellation deadline for this time ended Sun 1 Mar, 14:00."
NOTICE_FIELD = '<input type="hidden" name="deadline_notice" value="shown">'


def details_url(salon, start: str = SLOT_PARAM, lang: str | None = None) -> str:
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start={start}"
    return f"{url}&lang={lang}" if lang else url


def post_details(client, salon, start: str = SLOT_PARAM, **fields):
    page = client.get(details_url(salon, start))
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS, **fields}
    return client.post(details_url(salon, start), data=data)


def book(client, salon, start: str = SLOT_PARAM, **fields) -> str:
    response = post_details(client, salon, start, **fields)
    assert response.status_code == 303, response.text
    return path_of(response)


def only_booking(session) -> Booking:
    session.rollback()
    return session.scalars(select(Booking)).one()


def policy_consent(session) -> BookingConsent:
    session.rollback()
    return session.scalars(
        select(BookingConsent).where(BookingConsent.kind == "cancellation_policy")
    ).one()


def stored_business(session, salon) -> Business:
    """The salon as the database has it now."""
    session.rollback()
    business = session.get(Business, salon.business.id)
    session.refresh(business)
    return business


def set_business(session, salon, **values) -> None:
    session.rollback()
    business = session.get(Business, salon.business.id)
    for name, value in values.items():
        setattr(business, name, value)
    session.commit()


# No surprise deadlines ------------------------------------------------------------------


def test_the_details_page_shows_the_deadlines_of_the_chosen_time(client, salon):
    page = client.get(details_url(salon))
    assert page.status_code == 200
    assert "Free cancellation until Mon 2 Mar, 10:00" in page.text
    assert "Change the time online until Mon 2 Mar, 10:00" in page.text
    assert "Times in Europe/Berlin time." in page.text
    assert "Please note before you book" not in page.text
    assert NOTICE_FIELD not in page.text


def test_the_deadlines_are_written_in_the_page_language(client, salon):
    page = client.get(details_url(salon, lang="de"))
    assert page.status_code == 200
    assert "Mo. 2. März, 10:00" in page.text


def test_a_policy_without_online_cancellation_says_so(client, salon, session):
    session.rollback()
    enable_policy(session, session.get(Business, salon.business.id), mode="never")
    session.commit()
    page = client.get(details_url(salon)).text
    assert "Cancelling online: not possible for this booking" in page
    assert "Please note before you book" not in page


def test_a_time_past_its_deadline_warns_beside_the_checkbox_and_the_consent_records_it(
    client, salon, session, owner
):
    page = client.get(details_url(salon, TODAY_PARAM)).text
    assert "Free cancellation: ended Sun 1 Mar, 14:00" in page
    assert PASSED_WARNING in page
    # The warning stands right before the policy checkbox, which points at it.
    warning_at = page.index(PASSED_WARNING)
    checkbox_at = page.index('id="accept_policy"')
    assert page.index("Please note before you book") < warning_at < checkbox_at
    assert 'aria-describedby="deadline-warning"' in page
    book(client, salon, TODAY_PARAM, deadline_notice="shown")
    assert policy_consent(session).deadline_passed_shown is True
    session.rollback()
    terms = session.scalars(select(BookingConsent).where(BookingConsent.kind == "terms")).one()
    assert terms.deadline_passed_shown is False
    staff_page = _owner_page(client, session, salon, only_booking(session).id)
    assert "booked after the cancellation or rescheduling deadline had passed" in staff_page


def test_a_time_inside_its_deadlines_records_no_warning_whatever_the_form_says(
    client, salon, session
):
    book(client, salon, deadline_notice="shown")
    assert policy_consent(session).deadline_passed_shown is False


def test_a_deadline_that_passes_while_the_form_is_open_brings_the_warning_back(
    client, salon, session, clock
):
    page = client.get(details_url(salon))
    assert NOTICE_FIELD not in page.text
    data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS}
    clock.move_to(JUST_AFTER_SLOT_DEADLINE)
    refused = client.post(details_url(salon), data=data)
    assert refused.status_code == 422
    assert "A deadline of this time passed while you filled in the form." in refused.text
    assert "The free-cancellation deadline for this time ended Mon 2 Mar, 10:00." in refused.text
    assert NOTICE_FIELD in refused.text
    session.rollback()
    assert session.scalars(select(Booking)).all() == []
    assert session.scalars(select(Client)).all() == []  # the attempt left no trace

    again = client.post(details_url(salon), data={**data, "deadline_notice": "shown"})
    assert again.status_code == 303
    assert policy_consent(session).deadline_passed_shown is True


def test_the_error_summary_takes_the_focus_without_a_script(client, salon):
    page = client.get(details_url(salon))
    response = client.post(details_url(salon), data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 422
    assert 'id="error-summary" role="alert" tabindex="-1" autofocus' in response.text
    assert "autofocus" not in page.text


# Cancel with care -----------------------------------------------------------------------


def test_cancelling_is_a_confirmation_step_with_a_reason_staff_see(
    app, client, salon, session, owner
):
    manage_path = book(client, salon)
    manage = client.get(manage_path).text
    assert f'href="{manage_path}/cancel"' in manage
    assert f'action="{manage_path}/cancel"' not in manage  # one click no longer cancels

    step = client.get(f"{manage_path}/cancel")
    assert step.status_code == 200
    assert "Cancel your booking?" in step.text
    assert "Cancelling now is free of charge." in step.text
    assert "Tuesday, 03 March 2026, 10:00" in step.text  # the booking is restated
    assert f'href="{manage_path}/reschedule"' in step.text
    assert "Reschedule instead" in step.text
    assert only_booking(session).status == "confirmed"

    response = client.post(
        f"{manage_path}/cancel", data={"csrf_token": csrf_token(step.text), "reason": REASON}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{manage_path}?done=cancelled"
    booking = only_booking(session)
    assert booking.status == "cancelled"
    assert booking.cancelled_by == "client"
    assert booking.cancel_reason == REASON
    staff_page = _owner_page(client, session, salon, booking.id)
    assert "cancelled by the client (reason: My train is cancelled" in staff_page


def test_a_cancel_without_a_reason_still_works(client, salon, session):
    manage_path = book(client, salon)
    token = csrf_token(client.get(f"{manage_path}/cancel").text)
    assert client.post(f"{manage_path}/cancel", data={"csrf_token": token}).status_code == 303
    booking = only_booking(session)
    assert (booking.status, booking.cancel_reason) == ("cancelled", "")


def test_a_reason_over_500_characters_is_refused(client, salon, session):
    manage_path = book(client, salon)
    token = csrf_token(client.get(f"{manage_path}/cancel").text)
    response = client.post(f"{manage_path}/cancel", data={"csrf_token": token, "reason": "x" * 501})
    assert response.status_code == 422
    assert "Please keep the reason to 500 characters or fewer." in response.text
    assert 'value="' not in response.text.split('name="reason"')[1].split(">")[0]
    assert only_booking(session).status == "confirmed"
    ok = client.post(f"{manage_path}/cancel", data={"csrf_token": token, "reason": "x" * 500})
    assert ok.status_code == 303


def test_no_reschedule_offer_when_the_policy_allows_no_moves(client, salon, session):
    session.rollback()
    business = session.get(Business, salon.business.id)
    publish_policy(session, business, summary="No moves.", reschedule_mode="never")
    session.commit()
    manage_path = book(client, salon)
    step = client.get(f"{manage_path}/cancel").text
    assert "Cancel your booking?" in step
    assert "Reschedule instead" not in step


def test_a_late_cancel_is_still_refused_and_noted_only_when_posted(client, salon, session, clock):
    manage_path = book(client, salon)
    token = csrf_token(client.get(f"{manage_path}/cancel").text)
    clock.move_to(JUST_AFTER_SLOT_DEADLINE)
    step = client.get(f"{manage_path}/cancel")
    assert step.status_code == 409
    assert "This booking can no longer be cancelled online" in step.text
    assert "Yes, cancel the booking" not in step.text
    session.rollback()
    assert session.scalars(select(BookingEvent)).all() == []  # a look is not an attempt

    response = client.post(f"{manage_path}/cancel", data={"csrf_token": token, "reason": REASON})
    assert response.status_code == 409
    assert "This booking can no longer be cancelled online" in response.text
    booking = only_booking(session)
    assert (booking.status, booking.cancel_reason) == ("confirmed", "")
    kinds = [event.kind for event in session.scalars(select(BookingEvent))]
    assert kinds == ["late_cancel_refused"]


def test_the_cancel_step_of_a_cancelled_booking_says_so(client, salon, session):
    manage_path = book(client, salon)
    token = csrf_token(client.get(f"{manage_path}/cancel").text)
    client.post(f"{manage_path}/cancel", data={"csrf_token": token})
    again = client.get(f"{manage_path}/cancel")
    assert again.status_code == 409
    assert "This booking was already cancelled." in again.text


# Owner-chosen client fields -------------------------------------------------------------


def test_the_phone_is_required_by_default(client, salon, session):
    response = post_details(client, salon, phone="")
    assert response.status_code == 422
    assert "Please enter a phone number so we can reach you." in response.text
    session.rollback()
    assert session.scalars(select(Booking)).all() == []


def test_an_optional_phone_may_be_left_empty_but_must_be_valid_when_given(client, salon, session):
    set_business(session, salon, client_phone="optional")
    page = client.get(details_url(salon)).text
    assert "Phone (optional)" in page
    bad = post_details(client, salon, phone="call me")
    assert bad.status_code == 422
    assert "Please enter a phone number of 6 to 15 digits" in bad.text
    book(client, salon, phone="")
    assert only_booking(session).client.phone == ""


def test_a_hidden_phone_field_is_not_shown_and_not_stored(client, salon, session):
    set_business(session, salon, client_phone="hidden")
    page = client.get(details_url(salon)).text
    assert 'name="phone"' not in page
    book(client, salon, phone="+49 30 1234567")  # a forged field is ignored
    assert only_booking(session).client.phone == ""


def test_notes_are_offered_only_when_the_owner_switches_them_on(client, salon, session):
    assert 'name="notes"' not in client.get(details_url(salon)).text
    book(client, salon, notes=NOTES)  # a forged field is ignored
    assert only_booking(session).client_notes == ""


def test_notes_are_stored_and_shown_to_staff(client, salon, session, owner):
    set_business(session, salon, client_notes=True)
    page = client.get(details_url(salon)).text
    assert "Anything we should know? (optional)" in page
    assert 'maxlength="1000"' in page
    book(client, salon, notes=f"  {NOTES}  ")
    booking = only_booking(session)
    assert booking.client_notes == NOTES
    staff_page = _owner_page(client, session, salon, booking.id)
    assert "Notes from the client" in staff_page
    assert "Allergic to lavender oil" in staff_page
    day = client.get("/staff/bookings?view=day&date=2026-03-03").text
    assert '<span class="status status-note">Note</span>' in day  # open the booking to read it
    assert "lavender" not in day


def test_notes_over_1000_characters_are_refused(client, salon, session):
    set_business(session, salon, client_notes=True)
    response = post_details(client, salon, notes="n" * 1001)
    assert response.status_code == 422
    assert "Please keep your note to 1000 characters or fewer." in response.text
    session.rollback()
    assert session.scalars(select(Booking)).all() == []
    book(client, salon, notes="n" * 1000)


@pytest.mark.parametrize("hipaa", [True, False], ids=["hipaa", "plain"])
def test_notes_and_the_reason_are_in_no_email(app, client, salon, session, owner, hipaa):
    """Notes are never e-mailed, in HIPAA mode or not; in HIPAA mode neither is a reason."""
    set_business(session, salon, client_notes=True)
    if hipaa:
        set_hipaa(session, salon.business)
        plain_open = client.open
        client.open = lambda *args, **kwargs: plain_open(
            *args,
            base_url="https://localhost",
            headers={"Referer": "https://localhost/b/"},
            **kwargs,
        )
    manage_path = book(client, salon, notes=NOTES)
    token = csrf_token(client.get(f"{manage_path}/cancel").text)
    reason = "Lavender rash flared up again."
    response = client.post(f"{manage_path}/cancel", data={"csrf_token": token, "reason": reason})
    assert response.status_code == 303
    sent = outbox(app)
    session.rollback()
    rows = session.scalars(select(OutboxMessage)).all()
    kinds = {row.kind for row in rows}
    assert {"booking.confirmation", "booking.cancellation", "booking.business_news"} <= kinds
    assert len(sent) == len(rows)
    with app.app_context():
        box = _box(app.config)
        scanned = [box.open(row.payload_sealed) for row in rows if row.payload_sealed]
    scanned += [_decoded(path.read_bytes()) for path in sent]
    # The notes never; the reason reaches staff news only outside HIPAA mode.
    forbidden = ["lavender oil", "lavender rash"] if hipaa else ["lavender oil"]
    for text in scanned:
        for words in forbidden:
            assert words not in text.lower(), text


def _decoded(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() != "multipart":
            payload = part.get_payload(decode=True) or b""
            parts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(parts)


def test_notes_are_in_the_data_export_and_gone_after_erasure(client, salon, session, owner):
    set_business(session, salon, client_notes=True)
    book(client, salon, notes=NOTES)
    kept_path = book(client, salon, "2026-03-04T09:00Z", notes=NOTES + " (kept)")
    assert kept_path
    session.rollback()
    kept = session.scalars(select(Booking).where(Booking.client_notes.like("%(kept)"))).one()
    redeem_gift_card(session, kept, "NOTES0000001", created_at=NOW)
    session.commit()
    client_id = kept.client_id

    assert sign_in(client).status_code == 302
    export = client.get(f"/staff/clients/{client_id}/data.json")
    assert export.status_code == 200
    data = json.loads(export.text)
    assert sorted(b["client_notes"] for b in data["bookings"]) == [NOTES, NOTES + " (kept)"]
    assert [c["deadline_passed_shown"] for c in data["bookings"][0]["consents"]] == [False, False]

    page = client.get(f"/staff/clients/{client_id}/erase")
    response = client.post(
        f"/staff/clients/{client_id}/erase",
        data={"csrf_token": csrf_token(page.text), "password": OWNER_PASSWORD},
    )
    assert response.status_code == 303
    session.rollback()
    notes = session.scalars(select(Booking.client_notes)).all()
    assert notes == [""]  # only the gift-card booking is kept, anonymised


# The owner's settings -------------------------------------------------------------------


def save_rules(client, **fields):
    page = client.get("/staff/booking-rules")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.text),
        "max_future_bookings_per_client": "5",
        "max_future_bookings_per_address": "10",
        "auto_block_after": "0",
        **fields,
    }
    return client.post("/staff/booking-rules", data=data)


def test_the_owner_chooses_the_client_fields_and_the_change_is_audited(
    client, owner_client, salon, session
):
    page = client.get("/staff/booking-rules").text
    assert "What the booking form asks" in page
    assert (
        '<input checked id="client_phone-0" name="client_phone" type="radio" value="required">'
        in page
    )
    response = save_rules(client, client_phone="optional", client_notes="y")
    assert response.status_code == 303
    business = stored_business(session, salon)
    assert (business.client_phone, business.client_notes) == ("optional", True)
    event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "settings.changed")).one()
    assert event.details["changes"] == {
        "client_phone": ["required", "optional"],
        "client_notes": [False, True],
    }


@pytest.mark.parametrize("value", ["bogus", "", "Required"])
def test_an_unknown_phone_choice_is_refused(client, owner_client, salon, session, value):
    response = save_rules(client, client_phone=value)
    assert response.status_code == 422
    assert "Please choose whether the phone number is asked for." in response.text
    assert stored_business(session, salon).client_phone == "required"


def _owner_page(client, session, salon, booking_id: int) -> str:
    """The staff page of a booking, as the owner sees it (signing in first if needed)."""
    page = client.get(f"/staff/bookings/{booking_id}")
    if page.status_code != 200:
        assert sign_in(client).status_code == 302
        page = client.get(f"/staff/bookings/{booking_id}")
    assert page.status_code == 200
    return page.text
