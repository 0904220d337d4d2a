"""Clean history: settings, the purge's boundaries and lock, and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.booking.models import Booking, BookingConsent, BookingEvent
from portal.clients.models import Client
from portal.extensions import db as portal_db
from portal.giftcards.models import GiftCard
from portal.jobs.locks import JobLocked, job_lock
from portal.retention.cli import export_history, purge_history
from portal.retention.jobs import PURGE_JOB, run_purge
from portal.retention.models import RetentionSettings
from portal.retention.service import cutoff, purge_business
from tests.conftest import NOW, OWNER_PASSWORD, csrf_token, sign_in
from tests.factories import (
    enable_clean_history,
    enable_gift_cards,
    make_business,
    make_client,
    make_ended_booking,
    make_provider,
    make_service,
)

CUTOFF = NOW - timedelta(days=30)
JUST_BEFORE_CUTOFF = CUTOFF - timedelta(seconds=1)
JUST_AFTER_CUTOFF = CUTOFF + timedelta(seconds=1)


def count(session, model, *where) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def history(session, salon):
    """Two bookings of one client: one ended just before the cut-off, one just after.

    They overlap in time, so they are with two providers (PostgreSQL's
    exclusion constraint would refuse them for one).
    """
    client = make_client(session, salon.business)
    colleague = make_provider(session, salon.business, [salon.service], name="Kim")
    old = make_ended_booking(session, salon, client, JUST_BEFORE_CUTOFF)
    recent = make_ended_booking(session, salon, client, JUST_AFTER_CUTOFF, provider_id=colleague.id)
    enable_clean_history(session, salon.business)
    session.commit()
    return client, old.id, recent.id


def test_months_cutoff_is_calendar_months_and_clamps_the_day():
    assert cutoff(NOW, 1, "months") == NOW.replace(month=2)
    assert cutoff(NOW.replace(month=3, day=31), 1, "months").day == 28
    assert cutoff(NOW, 30, "days") == CUTOFF


def test_purge_deletes_only_bookings_that_ended_before_the_cutoff(app, session, history):
    client, old_id, recent_id = history
    result = purge_business(portal_db.writer, client.business_id, NOW)
    assert (result.bookings, result.consents, result.events) == (1, 1, 1)
    assert count(session, Booking, Booking.id == old_id) == 0
    assert count(session, BookingConsent, BookingConsent.booking_id == old_id) == 0
    assert count(session, BookingEvent, BookingEvent.booking_id == old_id) == 0
    assert count(session, Booking, Booking.id == recent_id) == 1
    event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "history.purged")).one()
    assert event.details["bookings"] == 1


def test_moving_the_clock_two_seconds_brings_the_second_booking_due(app, session, history, clock):
    clock.move_to(NOW + timedelta(seconds=2))
    from portal.clock import utcnow

    result = purge_business(portal_db.writer, history[0].business_id, utcnow())
    assert result.bookings == 2


def test_bookings_that_have_not_ended_are_never_touched(app, session, salon):
    client = make_client(session, salon.business)
    make_ended_booking(session, salon, client, NOW + timedelta(hours=1))
    enable_clean_history(session, salon.business, amount=1, unit="days")
    session.commit()
    purge_business(portal_db.writer, salon.business.id, NOW + timedelta(minutes=5))
    assert count(session, Booking) == 1


def test_dry_run_changes_nothing_but_records_what_would_go(app, session, history):
    result = purge_business(portal_db.writer, history[0].business_id, NOW, dry_run=True)
    assert result.bookings == 1
    assert count(session, Booking) == 2
    assert count(session, AuditEvent, AuditEvent.kind == "history.purge_dry_run") == 1
    assert count(session, AuditEvent, AuditEvent.kind == "history.purged") == 0


def test_another_business_is_untouched(app, session, history, salon):
    other = make_business(session, slug="other", name="Other")
    service = make_service(session, other)
    provider = make_provider(session, other, [service])
    from tests.conftest import Salon
    from tests.factories import enable_terms

    enable_terms(session, other)
    other_salon = Salon(other, service, provider)
    make_ended_booking(session, other_salon, make_client(session, other), JUST_BEFORE_CUTOFF)
    enable_clean_history(session, other, amount=3650, unit="days")
    session.commit()
    results = run_purge(portal_db, NOW)
    assert {r.slug: r.bookings for r in results} == {"salon": 1, "other": 0}
    assert count(session, Booking, Booking.business_id == other.id) == 1


def test_orphan_clients_go_only_when_asked(app, session, salon):
    lonely = make_client(session, salon.business, email="lonely@example.com")
    make_ended_booking(session, salon, lonely, JUST_BEFORE_CUTOFF)
    enable_clean_history(session, salon.business, orphans=True)
    session.commit()
    result = purge_business(portal_db.writer, salon.business.id, NOW)
    assert result.clients == 1
    assert count(session, Client, Client.email == "lonely@example.com") == 0


def test_the_lock_refuses_a_second_run(app, session, history):
    runner = app.test_cli_runner()
    with job_lock(portal_db.engine, PURGE_JOB):
        with pytest.raises(JobLocked):
            run_purge(portal_db, NOW)
        result = runner.invoke(purge_history, [])
    assert result.exit_code == 1
    assert "Another purge is running" in result.output
    assert count(session, Booking) == 2


def test_cli_purge_reports_counts(app, session, history, clock):
    result = app.test_cli_runner().invoke(purge_history, ["--business", "salon"])
    assert result.exit_code == 0, result.output
    assert "salon: deleted 1 bookings" in result.output
    dry = app.test_cli_runner().invoke(purge_history, ["--dry-run"])
    assert "would delete 0 bookings" in dry.output


def test_purge_refuses_while_gift_cards_are_on(app, session, history):
    enable_gift_cards(session, history[0], NOW)
    session.commit()
    result = app.test_cli_runner().invoke(purge_history, [])
    assert result.exit_code == 1
    assert "Gift cards" in result.output
    assert count(session, Booking) == 2


# The settings page -------------------------------------------------------------


def _post_settings(client, **fields):
    page = client.get("/staff/data")
    data = {
        "csrf_token": csrf_token(page.text),
        "enabled": "on",
        "period_amount": "30",
        "period_unit": "days",
    }
    data.update(fields)
    return client.post("/staff/data", data=data)


def test_switching_on_asks_for_password_and_slug_and_shows_the_count(
    app, client, session, owner, history
):
    session.execute(RetentionSettings.__table__.delete())
    session.commit()
    sign_in(client)
    page = client.get("/staff/data")
    assert "cannot be restored" in page.text
    refused = _post_settings(client)
    assert refused.status_code == 422
    assert "1 booking(s) would be deleted" in refused.text
    assert "Your password is not correct." in refused.text
    assert "Type salon exactly" in refused.text
    saved = _post_settings(client, password=OWNER_PASSWORD, confirm_slug="salon")
    assert saved.status_code == 303
    assert session.get(RetentionSettings, owner.business_id).enabled
    changed = session.scalars(select(AuditEvent).where(AuditEvent.kind == "settings.changed")).all()
    assert changed[-1].details["area"] == "clean_history"


def test_lengthening_needs_no_password_but_shortening_does(app, client, session, owner, history):
    sign_in(client)
    assert _post_settings(client, period_amount="60").status_code == 303
    assert _post_settings(client, period_amount="10").status_code == 422


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        ("0", "days", "Choose a period from 1 to 3652 days"),
        ("3653", "days", "Choose a period from 1 to 3652 days"),
        ("121", "months", "Choose a period from 1 to 120 months"),
        ("abc", "days", "Not a valid integer value."),
        ("5", "weeks", "Not a valid choice."),
    ],
)
def test_bad_periods_are_refused_with_a_message(app, client, owner, amount, unit, message):
    sign_in(client)
    response = _post_settings(client, period_amount=amount, period_unit=unit)
    assert response.status_code == 422
    assert message in response.text


def test_clean_history_is_refused_while_gift_cards_are_on(app, client, session, owner):
    enable_gift_cards(session, owner, NOW)
    session.commit()
    sign_in(client)
    response = _post_settings(client, password=OWNER_PASSWORD, confirm_slug="salon")
    assert response.status_code == 409
    assert "Gift cards need the booking history kept" in response.text
    assert session.get(RetentionSettings, owner.business_id) is None


def test_clean_history_is_refused_while_a_card_has_balance(app, client, session, owner):
    session.add(
        GiftCard(
            business_id=owner.business_id,
            code="ABCDEF123456",
            value_cents=1000,
            balance_cents=500,
            expires_on=date(2027, 1, 1),
            status="active",
            note="",
            created_at=NOW,
        )
    )
    session.commit()
    sign_in(client)
    response = _post_settings(client, password=OWNER_PASSWORD, confirm_slug="salon")
    assert response.status_code == 409
    assert "1 gift card(s) still have a balance" in response.text


def test_gift_cards_cannot_be_switched_on_while_clean_history_is_on(app, client, session, owner):
    enable_clean_history(session, owner)
    session.commit()
    sign_in(client)
    page = client.get("/staff/gift-cards/")
    response = client.post(
        "/staff/gift-cards/switch", data={"csrf_token": csrf_token(page.text), "state": "on"}
    )
    assert response.status_code == 409
    assert "cannot be switched on while clean history is on" in response.text


def test_plain_staff_cannot_open_the_data_page(app, client, session, salon):
    from portal.accounts.service import create_staff_user

    create_staff_user(
        session, salon.business, email="s@salon.example", password=OWNER_PASSWORD, role="staff"
    )
    session.commit()
    sign_in(client, "s@salon.example")
    assert client.get("/staff/data").status_code == 403
    assert client.get("/staff/data/export.csv").status_code == 403


# Export -------------------------------------------------------------------------


def _expected_rows(session, business):
    session.rollback()
    rows = []
    for booking in session.scalars(select(Booking).order_by(Booking.id)):
        terms = next((c for c in booking.consents if c.kind == "terms"), None)
        rows.append(
            {
                "booking_id": str(booking.id),
                "start_utc": booking.start_at.isoformat(),
                "status": booking.status,
                "client_name": booking.client.name,
                "client_email": booking.client.email,
                "client_phone": booking.client.phone,
                "service": booking.service.name,
                "terms_version": str(terms.terms_version.version) if terms else "",
                "consent_ip_address": terms.ip_address if terms else "",
            }
        )
    return rows


def test_export_csv_equals_the_database_and_is_audited(app, client, session, owner, history):
    tricky = make_client(session, _business(session, owner), name="=cmd()")
    make_ended_booking(session, _salon_of(session, owner), tricky, NOW - timedelta(days=400))
    session.commit()
    sign_in(client)
    response = client.get("/staff/data/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    parsed = list(csv.DictReader(io.StringIO(response.text)))
    assert list(parsed[0]) == [
        "booking_id",
        "start_utc",
        "end_utc",
        "start_local",
        "status",
        "service",
        "provider",
        "price_cents",
        "client_id",
        "client_name",
        "client_email",
        "client_phone",
        "created_at_utc",
        "created_by",
        "cancelled_at_utc",
        "cancelled_by",
        "terms_version",
        "terms_accepted_at_utc",
        "policy_version",
        "policy_accepted_at_utc",
        "consent_ip_address",
    ]
    expected = _expected_rows(session, None)
    got = [{key: row[key] for key in expected[0]} for row in parsed]
    for row in expected:
        # What a spreadsheet would run gets a leading quote: the formula and phone numbers.
        row["client_name"] = {"=cmd()": "'=cmd()"}.get(row["client_name"], row["client_name"])
        row["client_phone"] = "'" + row["client_phone"]
    assert got == expected
    assert {row["client_phone"] for row in got} == {"'+49 30 5550101"}
    assert count(session, AuditEvent, AuditEvent.kind == "data.exported") == 1


def test_export_csv_quotes_every_cell_that_starts_like_a_formula(client, session, owner):
    """The strict rule: ``+`` and ``-`` are quoted even before digits only ("-1+1" runs)."""
    business = _business(session, owner)
    cells = [("-1+1", "+1 (555) 0100"), ("@SUM(A1)", "-5"), ("\t=1", "")]
    for days, (name, phone) in enumerate(cells, 7):
        tricky = make_client(session, business, name=name, phone=phone)
        make_ended_booking(session, _salon_of(session, owner), tricky, NOW - timedelta(days=days))
    session.commit()
    sign_in(client)
    rows = list(csv.DictReader(io.StringIO(client.get("/staff/data/export.csv").text)))
    assert [(row["client_name"], row["client_phone"]) for row in rows] == [
        ("'-1+1", "'+1 (555) 0100"),
        ("'@SUM(A1)", "'-5"),
        ("'\t=1", ""),
    ]


def _business(session, owner):
    from portal.businesses.models import Business

    return session.get(Business, owner.business_id)


def _salon_of(session, owner):
    from portal.catalog.models import Provider, Service
    from tests.conftest import Salon

    business = _business(session, owner)
    service = session.scalars(select(Service).where(Service.business_id == business.id)).first()
    provider = session.scalars(select(Provider).where(Provider.business_id == business.id)).first()
    return Salon(business, service, provider)


def test_export_date_range_and_bad_dates(app, client, session, owner, history):
    sign_in(client)
    day = (JUST_BEFORE_CUTOFF).astimezone(_business(session, owner).tz).date()
    response = client.get(f"/staff/data/export.csv?first={day}&last={day}")
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == 2
    response = client.get(f"/staff/data/export.csv?first={day + timedelta(days=1)}")
    assert list(csv.DictReader(io.StringIO(response.text))) == []
    assert client.get("/staff/data/export.csv?first=2026-13-01").status_code == 400
    assert client.get("/staff/data/export.csv?first=2026-03-02&last=2026-03-01").status_code == 400


def test_cli_export_writes_the_same_rows(app, session, history, tmp_path):
    out = tmp_path / "history.csv"
    result = app.test_cli_runner().invoke(
        export_history, ["--business", "salon", "--before", "2026-02-01", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(r["booking_id"]) for r in rows] == [history[1], history[2]]
    app.test_cli_runner().invoke(
        export_history, ["--business", "salon", "--before", "2026-01-31", "--out", str(out)]
    )
    assert list(csv.DictReader(io.StringIO(out.read_text()))) == []
    unknown = app.test_cli_runner().invoke(
        export_history, ["--business", "nope", "--out", str(out)]
    )
    assert unknown.exit_code == 1


def test_the_workers_nightly_purge_runs_under_the_job_lock(app, session, history, clock, caplog):
    from portal.jobs.locks import job_lock

    caplog.set_level("INFO", logger="portal.jobs.queue")
    run = app.extensions["portal_queue"].periodic_jobs["purge-history"]
    with job_lock(portal_db.engine, "worker-purge-history"):  # another host's worker runs it
        run()
    assert "purge-history skipped: another worker holds its lock" in caplog.text
    assert count(session, Booking) == 2
    run()
    assert count(session, Booking) == 1
