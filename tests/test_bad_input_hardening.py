"""Inputs the security test found reaching a 500: each answers a clear 4xx and writes nothing.

Control characters in names (and old rows that already hold them), ids
beyond the database integer, dates outside the supported years, and a
gift card worth ``sNaN``.
"""

from __future__ import annotations

import email
import email.policy

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.booking.models import Booking
from portal.catalog.models import Service
from portal.models import Base
from tests.conftest import csrf_token, outbox, sign_in
from tests.factories import enable_gift_cards
from tests.test_client_accounts import (
    EMAIL,
    accounts_on,  # noqa: F401 (fixture)
    book,
    bookings,
    cancel,
    client_account,  # noqa: F401 (fixture)
    my_bookings_token,
    sign_up,
    signed_in_client,  # noqa: F401 (fixture)
)

#: Beyond a 64-bit integer, and just beyond a 32-bit one (PostgreSQL's ``integer``).
HUGE_IDS = ["99999999999999999999", str(2**31)]
CONTROL_IN_NAME = "Names cannot contain line breaks, tabs or other control characters."
BAD_DATE_RANGE = "Use a date between the years 1900 and 2200."
NOT_AN_AMOUNT = "Enter an amount in digits, like 50.00."


def table_counts(session) -> dict[str, int]:
    """Rows per table: what a refused request must leave as it was."""
    session.rollback()
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def mails(app) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in outbox(app)
    ]


# Names with control characters.


@pytest.mark.usefixtures("accounts_on")
@pytest.mark.parametrize("name", ["Mia\r\nBcc: victim@example.com", "Mia\nExample", "Mia\tX"])
def test_a_client_sign_up_name_with_control_characters_is_refused(client, session, name):
    before = table_counts(session)
    response = sign_up(client, name=name)
    assert response.status_code == 422
    assert CONTROL_IN_NAME in response.text
    assert table_counts(session) == before


@pytest.mark.usefixtures("accounts_on")
def test_a_sign_up_name_is_stored_in_nfc(client, session):
    from tests.test_client_accounts import account_of

    assert sign_up(client, name="Jose\u0301 Mu\u0308ller").status_code == 200
    assert account_of(session).name == "Jos\u00e9 M\u00fcller"


def test_the_owner_cannot_save_a_service_name_with_a_line_feed(owner_client, session, salon):
    url = f"/staff/services/{salon.service.id}"
    before = table_counts(session)
    page = owner_client.get(url)
    response = owner_client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Haircut\nBcc: x@example.com",
            "duration_minutes": "30",
            "price_cents": "35.00",
            "buffer_minutes": "0",
            "providers": [str(salon.provider.id)],
        },
    )
    assert response.status_code == 422
    assert CONTROL_IN_NAME in response.text
    assert table_counts(session) == before
    session.expire_all()
    assert session.get(Service, salon.service.id).name == "Haircut"


def test_the_owner_cannot_invite_a_name_with_a_line_feed(owner_client, session):
    page = owner_client.get("/staff/team")
    before = table_counts(session)
    response = owner_client.post(
        "/staff/team",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Sam\r\nStaff",
            "email": "sam@salon.example",
            "role": "staff",
        },
    )
    assert response.status_code == 422
    assert CONTROL_IN_NAME in response.text
    assert table_counts(session) == before


def test_old_rows_with_line_feeds_still_get_their_mails_and_cancel(
    app,
    client,
    session,
    signed_in_client,  # noqa: F811 (fixture)
):
    """Names stored before the check may hold line feeds: mails are sent and cancel works."""
    salon = signed_in_client
    salon.business.name = "Salon\r\nTest"
    session.merge(salon.business)
    service = session.get(Service, salon.service.id)
    service.name = "Hair\ncut"
    session.commit()
    sent = len(outbox(app))

    assert book(client, salon.service.id).status_code == 303
    [booking] = bookings(session)
    booking.client.name = "Mia\r\nExample"
    session.commit()
    confirmation = mails(app)[-1]
    assert len(mails(app)) == sent + 1
    assert confirmation["Subject"].startswith("Booking confirmed: Hair cut")

    response = cancel(client, booking.id, my_bookings_token(client))
    assert response.status_code == 302
    session.expire_all()
    [booking] = bookings(session)
    assert booking.status == "cancelled"
    message = mails(app)[-1]
    assert len(mails(app)) == sent + 2
    assert message["To"] == f"Mia Example <{EMAIL}>"
    assert "\n" not in str(message["From"])


def test_compose_never_lets_a_control_character_into_a_header(app):
    from portal.mail.compose import compose

    with app.app_context():
        message = compose(
            sender_name="Salon\x00\x0b\u2028Test\x1f",
            sender_address="no-reply@portal.test",
            to=("Mia\x85Example\r\n", "mia@example.com"),
            subject="Booking\x0cconfirmed\u2029now\x7f",
            text="text",
            html="<p>html</p>",
        )
        raw = message.as_bytes()
    headers = raw.split(b"\n\n", 1)[0].decode("ascii")
    for character in ("\x00", "\x0b", "\x0c", "\x1f", "\x7f", "\r"):
        assert character not in headers.replace("\r\n", "\n")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Booking confirmed now"
    assert parsed["To"] == "Mia Example <mia@example.com>"
    assert parsed["From"] == "Salon Test <no-reply@portal.test>"


@pytest.mark.parametrize("kind", ["bookings", "clients"])
def test_a_notes_form_without_its_field_is_an_empty_note(owner_client, session, make_booking, kind):
    """Found by the fuzz suite: a POST that left out ``notes`` answered 500 (None.replace)."""
    booking = make_booking()
    target = booking if kind == "bookings" else booking.client
    target.staff_notes = "Prefers mornings"
    session.commit()
    url = f"/staff/{kind}/{target.id}"
    response = owner_client.post(
        f"{url}/notes", data={"csrf_token": csrf_token(owner_client.get(url).text)}
    )
    assert response.status_code == 303
    session.expire_all()
    assert target.staff_notes == ""


# Ids beyond the database integer: 404, like any unknown id.


@pytest.mark.usefixtures("signed_in_client")
@pytest.mark.parametrize("huge", HUGE_IDS)
def test_a_huge_booking_id_in_a_clients_cancel_is_not_found(client, session, huge):
    token = my_bookings_token(client)
    before = table_counts(session)
    assert client.get(f"/b/salon/account/bookings/{huge}/cancel").status_code == 404
    assert cancel(client, huge, token).status_code == 404
    assert table_counts(session) == before


@pytest.mark.parametrize("huge", HUGE_IDS)
@pytest.mark.parametrize(
    "path",
    [
        "/staff/security/unlock/staff/{}",
        "/staff/security/unlock/client/{}",
        "/staff/team/{}/reset-2fa",
        "/staff/bookings/{}/cancel",
        "/staff/clients/{}/block",
        "/staff/messages/{}/resend",
        "/staff/providers/{}/days-off/{}/remove",
    ],
)
def test_a_huge_id_in_a_staff_post_is_not_found(owner_client, session, path, huge):
    token = csrf_token(owner_client.get("/staff/team").text)
    before = table_counts(session)
    response = owner_client.post(path.format(huge, huge), data={"csrf_token": token})
    assert response.status_code == 404
    assert table_counts(session) == before


def test_the_largest_database_integer_is_still_an_id(owner_client):
    """2**31 - 1 fits every database: an unknown row, answered by the view itself."""
    assert owner_client.get(f"/staff/bookings/{2**31 - 1}").status_code == 404
    assert owner_client.get("/staff/services/0").status_code == 404


# Dates outside the supported years.


@pytest.mark.parametrize("url", ["/staff/audit", "/staff/audit/export.csv"])
@pytest.mark.parametrize("query", ["from=0001-01-01", "to=9999-12-31", "from=1899-12-31"])
def test_audit_filters_outside_the_supported_years_are_refused(owner_client, session, url, query):
    before = table_counts(session)
    response = owner_client.get(f"{url}?{query}")
    assert response.status_code == 400
    assert BAD_DATE_RANGE in response.text
    assert table_counts(session) == before


def test_audit_filters_at_the_edges_of_the_supported_years_work(owner_client):
    response = owner_client.get("/staff/audit?from=1900-01-01&to=2200-12-31")
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["last=9999-12-31", "first=0001-01-01", "first=2201-01-01"])
def test_data_export_dates_outside_the_supported_years_are_refused(owner_client, session, query):
    before = table_counts(session)
    response = owner_client.get(f"/staff/data/export.csv?{query}")
    assert response.status_code == 400
    assert BAD_DATE_RANGE in response.text
    assert table_counts(session) == before


def test_data_export_over_the_whole_supported_range_streams(owner_client, session):
    response = owner_client.get("/staff/data/export.csv?first=1900-01-01&last=2200-12-31")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf") or response.data


# Money that is not a number.


@pytest.mark.parametrize("value", ["sNaN", "NaN", "-sNaN", "Infinity", "-inf", "1e999999"])
def test_a_gift_card_value_that_is_not_an_amount_is_refused(client, session, owner, clock, value):
    from tests.conftest import NOW

    enable_gift_cards(session, owner, NOW)
    session.commit()
    sign_in(client)
    page = client.get("/staff/gift-cards/")
    before = table_counts(session)
    response = client.post(
        "/staff/gift-cards/issue",
        data={"csrf_token": csrf_token(page.text), "value": value, "expires_on": "2026-12-31"},
    )
    assert response.status_code == 422
    assert NOT_AN_AMOUNT in response.text or "A card is worth 0.01 to 10,000.00." in response.text
    assert table_counts(session) == before


def test_no_audit_event_is_written_for_a_refused_filter(owner_client, session):
    session.rollback()
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    owner_client.get("/staff/audit/export.csv?to=9999-12-31")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert session.scalar(select(func.count()).select_from(Booking)) == 0
