"""The owner's texts in each language the business offers, and what clients read.

The salon is made German here (its texts are the German originals); the owner
adds English versions. Clients reading in English see them; in German, or where
no English version exists, they see the original.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.booking.models import BookingConsent
from portal.catalog.models import Service, ServiceTranslation
from portal.policies.models import CancellationPolicyVersion, PolicyTranslation, TermsVersion
from portal.policies.rich_text import markdown_html
from tests.conftest import csrf_token, outbox
from tests.factories import DETAILS
from tests.test_catalog_admin import change_events
from tests.test_flow import booking_url

SERVICE_DE = {"name": "Haarschnitt", "description": "Waschen, Schneiden, Föhnen."}
SERVICE_EN = {"translated_name": "Haircut", "translated_description": "Wash, cut and style."}
POLICY_DE = {
    "policy_enabled": "y",
    "cancel_mode": "until",
    "cancel_notice": "24",
    "cancel_unit": "hours",
    "reschedule_mode": "until",
    "reschedule_notice": "24",
    "reschedule_unit": "hours",
    "summary": "Kostenlose Stornierung bis 24 Stunden vorher.",
    "prepayment": "Keine Anzahlung.",
    "refunds": "",
    "rebooking": "",
    "body": "Bitte rufen Sie uns an.",
}
POLICY_EN = {
    "translated_summary": "Free cancellation until 24 hours before.",
    "translated_prepayment": "No deposit.",
    "translated_body": "Please call us.",
}


@pytest.fixture
def german_salon(session, salon):
    """The salon, German: its service and texts are written in German."""
    salon.business.locale = "de"
    salon.service.name, salon.service.description = SERVICE_DE["name"], SERVICE_DE["description"]
    session.commit()
    return salon


def submit(client, url: str, data: dict):
    """Post the owner's form, reading the owner's pages in English (the messages checked)."""
    token = csrf_token(client.get(f"{url}?lang=en").text)
    return client.post(url, data={"csrf_token": token, **data})


def service_form(salon, **changes) -> dict:
    data = {
        **SERVICE_DE,
        "duration_minutes": "30",
        "price_cents": "30.00",
        "buffer_minutes": "0",
        "providers": [str(salon.provider.id)],
        **changes,
    }
    return data


def services_page(client, language: str) -> str:
    page = client.get(f"/b/salon/?lang={language}")
    assert page.status_code == 200
    return page.text


# -- services --------------------------------------------------------------------------


def test_the_service_form_offers_an_english_version_for_a_german_business(
    owner_client, german_salon
):
    page = owner_client.get(f"/staff/services/{german_salon.service.id}?lang=en").text
    assert "English version (optional)" in page
    assert 'name="translated_name"' in page
    assert 'name="translated_description"' in page


def test_an_english_version_of_a_service_is_shown_to_english_clients_only(
    owner_client, client, session, german_salon
):
    url = f"/staff/services/{german_salon.service.id}"
    response = submit(owner_client, url, service_form(german_salon, **SERVICE_EN))
    assert response.status_code == 303
    session.rollback()
    [row] = session.scalars(select(ServiceTranslation)).all()
    assert (row.service_id, row.locale, row.name, row.description) == (
        german_salon.service.id,
        "en",
        "Haircut",
        "Wash, cut and style.",
    )
    [event] = change_events(session, "services")
    assert event["changes"] == {
        "name_en": [None, "Haircut"],
        "description_en": [None, "Wash, cut and style."],
    }
    # The original stays the service's own text: staff pages show it.
    assert session.get(Service, german_salon.service.id).name == "Haarschnitt"
    assert "Haarschnitt" in owner_client.get("/staff/services").text

    english = services_page(client, "en")
    assert "Haircut" in english
    assert "Wash, cut and style." in english
    assert "Haarschnitt" not in english
    german = services_page(client, "de")
    assert "Haarschnitt" in german
    assert "Waschen, Schneiden, Föhnen." in german
    assert "Haircut" not in german
    # The picker's summary and the details page speak the page's language too.
    client.get("/b/salon/?lang=en")
    slots = client.get(f"/b/salon/services/{german_salon.service.id}?day=2026-03-03").text
    assert '<p class="summary-service">Haircut</p>' in slots
    details = client.get(booking_url(german_salon)).text
    assert '<p class="summary-service">Haircut</p>' in details


def test_without_an_english_version_english_clients_read_the_original(client, german_salon):
    english = services_page(client, "en")
    assert "Haarschnitt" in english
    assert "Waschen, Schneiden, Föhnen." in english


def test_emptying_the_english_name_removes_the_english_version(
    owner_client, client, session, german_salon
):
    url = f"/staff/services/{german_salon.service.id}"
    assert submit(owner_client, url, service_form(german_salon, **SERVICE_EN)).status_code == 303
    form = service_form(german_salon, translated_name="", translated_description="")
    assert submit(owner_client, url, form).status_code == 303
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ServiceTranslation)) == 0
    assert "Haarschnitt" in services_page(client, "en")


BAD_TRANSLATIONS = [
    ({"translated_name": "x" * 201}, "Keep the name under 200 characters."),
    (
        {"translated_name": "Haircut", "translated_description": "x" * 2001},
        "Keep the description under 2000 characters.",
    ),
    (
        {"translated_name": "", "translated_description": "Wash, cut and style."},
        "Give the name too: a description without a name cannot be shown.",
    ),
]


@pytest.mark.parametrize(("fields", "message"), BAD_TRANSLATIONS)
def test_a_bad_english_version_is_refused_with_a_message(
    owner_client, session, german_salon, fields, message
):
    url = f"/staff/services/{german_salon.service.id}"
    response = submit(owner_client, url, service_form(german_salon, **fields))
    assert response.status_code == 422
    assert message in response.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ServiceTranslation)) == 0


def test_another_business_service_cannot_be_given_a_version(owner_client, session, rival):
    token = csrf_token(owner_client.get("/staff/services?lang=en").text)
    response = owner_client.post(
        f"/staff/services/{rival.service.id}",
        data={"csrf_token": token, **service_form(rival, **SERVICE_EN)},
    )
    assert response.status_code == 404
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ServiceTranslation)) == 0


def test_an_english_confirmation_email_names_the_english_service(
    app, owner_client, client, session, german_salon
):
    url = f"/staff/services/{german_salon.service.id}"
    assert submit(owner_client, url, service_form(german_salon, **SERVICE_EN)).status_code == 303
    client.get("/b/salon/?lang=en")
    page = client.get(booking_url(german_salon))
    data = {
        "csrf_token": csrf_token(page.text),
        **DETAILS,
        "accept_terms": "y",
        "accept_policy": "y",
    }
    assert client.post(booking_url(german_salon), data=data).status_code == 303
    messages = [
        email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
        for sent in outbox(app)
    ]
    [message] = [m for m in messages if "mia@example.com" in m["To"]]
    assert "Haircut" in message["Subject"]
    assert "Haircut" in message.get_body(("html",)).get_content()


# -- terms and policy ------------------------------------------------------------------


def test_a_new_policy_version_publishes_both_languages_at_once(
    owner_client, client, session, german_salon
):
    response = submit(owner_client, "/staff/cancellation-policy", {**POLICY_DE, **POLICY_EN})
    assert response.status_code == 303
    session.rollback()
    policy = session.scalars(
        select(CancellationPolicyVersion).order_by(CancellationPolicyVersion.version.desc())
    ).first()
    assert policy.version == 2
    assert policy.summary == "Kostenlose Stornierung bis 24 Stunden vorher."
    [english] = policy.translations
    assert english.locale == "en"
    assert english.summary == "Free cancellation until 24 hours before."
    assert (english.prepayment, english.format) == ("No deposit.", "markdown")

    page = client.get("/b/salon/cancellation-policy?lang=en").text
    assert "Free cancellation until 24 hours before." in page
    assert "<p>No deposit.</p>" in page
    assert "<p>Please call us.</p>" in page
    assert "Kostenlose Stornierung" not in page
    page = client.get("/b/salon/cancellation-policy?lang=de").text
    assert "Kostenlose Stornierung bis 24 Stunden vorher." in page
    assert "<p>Keine Anzahlung.</p>" in page
    assert "Free cancellation" not in page
    # The summary above the checkbox follows the page's language.
    client.get("/b/salon/?lang=en")
    assert "Free cancellation until 24 hours before." in client.get(booking_url(german_salon)).text

    # Saving again unchanged publishes nothing; a changed English text is a new version.
    assert submit(owner_client, "/staff/cancellation-policy", {**POLICY_DE, **POLICY_EN})
    session.rollback()
    assert session.scalar(select(func.max(CancellationPolicyVersion.version))) == 2
    changed = {**POLICY_EN, "translated_summary": "Cancel for free until 24 hours before."}
    submit(owner_client, "/staff/cancellation-policy", {**POLICY_DE, **changed})
    session.rollback()
    assert session.scalar(select(func.max(CancellationPolicyVersion.version))) == 3
    # Version 2 keeps its English text: versions never change once published.
    kept = session.scalars(
        select(PolicyTranslation).where(PolicyTranslation.policy_version_id == policy.id)
    ).one()
    assert kept.summary == "Free cancellation until 24 hours before."


def test_the_consent_names_a_version_with_the_text_accepted_in_each_language(
    owner_client, client, session, german_salon
):
    submit(owner_client, "/staff/cancellation-policy", {**POLICY_DE, **POLICY_EN})
    submit(
        owner_client,
        "/staff/terms",
        {"terms_enabled": "y", "body": "Bitte pünktlich sein.", "translated_body": "Be on time."},
    )
    client.get("/b/salon/?lang=en")
    page = client.get(booking_url(german_salon))
    data = {
        "csrf_token": csrf_token(page.text),
        **DETAILS,
        "accept_terms": "y",
        "accept_policy": "y",
    }
    assert client.post(booking_url(german_salon), data=data).status_code == 303
    session.rollback()
    policy_consent, terms_consent = session.scalars(
        select(BookingConsent).order_by(BookingConsent.kind)
    ).all()
    policy = policy_consent.policy_version
    assert policy.summary == "Kostenlose Stornierung bis 24 Stunden vorher."
    assert [(t.locale, t.summary) for t in policy.translations] == [
        ("en", "Free cancellation until 24 hours before.")
    ]
    terms = terms_consent.terms_version
    assert terms.body == "Bitte pünktlich sein."
    assert [(t.locale, t.body) for t in terms.translations] == [("en", "Be on time.")]


def test_english_terms_are_shown_to_english_clients(owner_client, client, german_salon):
    response = submit(
        owner_client,
        "/staff/terms",
        {"terms_enabled": "y", "body": "Bitte pünktlich sein.", "translated_body": "Be on time."},
    )
    assert response.status_code == 303
    assert "English version (optional)" in owner_client.get("/staff/terms?lang=en").text
    assert "<p>Be on time.</p>" in client.get("/b/salon/terms?lang=en").text
    german = client.get("/b/salon/terms?lang=de").text
    assert "<p>Bitte pünktlich sein.</p>" in german
    assert "Be on time." not in german


def test_html_in_english_terms_is_shown_as_text(owner_client, client, session, german_salon):
    hostile = '<p onclick="steal()">Be on time.</p><script>alert(1)</script>'
    response = submit(
        owner_client,
        "/staff/terms",
        {"terms_enabled": "y", "body": "Bitte pünktlich sein.", "translated_body": hostile},
    )
    assert response.status_code == 303
    session.rollback()
    terms = session.scalars(select(TermsVersion).order_by(TermsVersion.version.desc())).first()
    assert [(t.body, t.format) for t in terms.translations] == [(hostile, "markdown")]
    page = client.get("/b/salon/terms?lang=en").text
    assert "<script>alert" not in page
    assert "<p onclick" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


BAD_POLICY_TRANSLATIONS = [
    (
        {"translated_summary": "x" * 301},
        "Keep your own sentence to 300 characters at most",
    ),
    (
        {"translated_summary": "Free.", "translated_refunds": "r" * 20_001},
        "This text is too long: at most 20,000 characters.",
    ),
]


@pytest.mark.parametrize(("fields", "message"), BAD_POLICY_TRANSLATIONS)
def test_a_bad_english_policy_is_refused_and_nothing_published(
    owner_client, session, german_salon, fields, message
):
    response = submit(owner_client, "/staff/cancellation-policy", {**POLICY_DE, **fields})
    assert response.status_code == 422
    assert message in response.text
    session.rollback()
    assert session.scalar(select(func.max(CancellationPolicyVersion.version))) == 1
    assert session.scalar(select(func.count()).select_from(PolicyTranslation)) == 0


def test_an_english_policy_needs_no_sentence_of_its_own(
    owner_client, client, session, german_salon
):
    """The summary is generated in each language; the owner's sentence is optional."""
    fields = {"translated_summary": "", "translated_refunds": "Nothing to refund."}
    assert submit(owner_client, "/staff/cancellation-policy", {**POLICY_DE, **fields}).status_code
    session.rollback()
    [english] = session.scalars(select(PolicyTranslation)).all()
    assert (english.summary, english.refunds) == ("", "Nothing to refund.")
    page = client.get("/b/salon/cancellation-policy?lang=en").text
    assert "<p>Nothing to refund.</p>" in page


# -- the demo --------------------------------------------------------------------------


def test_the_demo_is_german_with_english_versions(session):
    from portal.demo import POLICY_EN, TERMS_EN, load_demo

    demo = load_demo(session, date(2026, 3, 2), owner_password="x" * 16)
    session.commit()
    business = demo.business
    assert business.locale == "de"
    services = session.scalars(
        select(Service).where(Service.business_id == business.id).order_by(Service.position)
    ).all()
    assert [s.name for s in services] == ["Haarschnitt", "Farbe und Schnitt", "Beratung"]
    assert [[(t.locale, t.name) for t in s.translations] for s in services] == [
        [("en", "Haircut")],
        [("en", "Colour and cut")],
        [("en", "Consultation")],
    ]
    policy = session.scalars(
        select(CancellationPolicyVersion).where(
            CancellationPolicyVersion.business_id == business.id
        )
    ).one()
    assert (
        policy.summary
        == "Nicht wahrgenommene Termine können mit 50 % des Preises berechnet werden."
    )
    assert [t.summary for t in policy.translations] == [POLICY_EN["summary"]]
    assert policy.format == "markdown"
    terms = session.scalars(
        select(TermsVersion).where(TermsVersion.business_id == business.id)
    ).one()
    assert terms.body.startswith("Diese Bedingungen")
    assert [t.body for t in terms.translations] == [TERMS_EN]
    for text in (TERMS_EN, *POLICY_EN.values()):
        assert "<" not in text
        assert markdown_html(text).startswith("<p>")
