"""One business's data is never reachable through another business's URLs."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.booking.models import Booking
from portal.clients.models import Client
from tests.conftest import csrf_token, path_of
from tests.factories import CONSENTS, DETAILS, enable_terms, make_provider

SLOT_PARAM = "2026-03-03T09:00Z"
NO_SERVICE = "We could not find that service."
INVALID_LINK = "This link is not valid or has expired."


def details_url(slug, service_id, provider="any", start=SLOT_PARAM) -> str:
    return f"/b/{slug}/services/{service_id}/book?provider={provider}&start={start}"


def book(client, slug, service_id) -> str:
    page = client.get(details_url(slug, service_id))
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS}
    response = client.post(details_url(slug, service_id), data=data)
    assert response.status_code == 303
    return path_of(response)


def count(session, model, **where) -> int:
    session.rollback()
    query = select(func.count()).select_from(model).filter_by(**where)
    return session.scalar(query)


def test_services_page_lists_only_the_business_own_services(client, salon, rival):
    rival_service = rival.service
    salon_page = client.get("/b/salon/").text
    assert "Haircut" in salon_page
    assert "Deep Tissue Massage" not in salon_page
    assert f"/services/{rival_service.id}" not in salon_page
    rival_page = client.get("/b/rival/").text
    assert "Deep Tissue Massage" in rival_page
    assert "Haircut" not in rival_page
    assert f"/services/{salon.service.id}" not in rival_page
    assert "Rival Studio" in rival_page
    assert "Salon Test" not in rival_page


def test_slot_page_of_a_service_of_another_business_is_not_found(client, salon, rival):
    response = client.get(f"/b/rival/services/{salon.service.id}")
    assert response.status_code == 404
    assert NO_SERVICE in response.text
    assert "Haircut" not in response.text


def test_slot_page_lists_only_the_business_own_providers(client, session, salon, rival):
    rival_service, rival_provider = rival.service, rival.provider
    page = client.get(f"/b/rival/services/{rival_service.id}").text
    assert "with Robin" in page
    assert "Alex" not in page
    assert f"provider={salon.provider.id}" not in page
    # With a second provider of its own, the page links to both, and still not to Alex.
    second = make_provider(session, rival.business, [rival_service], name="Kai")
    session.commit()
    page = client.get(f"/b/rival/services/{rival_service.id}").text
    assert f"provider={rival_provider.id}" in page and f"provider={second.id}" in page
    assert "Alex" not in page
    assert f"provider={salon.provider.id}" not in page


def test_details_page_of_a_service_of_another_business_is_not_found(client, salon, rival):
    response = client.get(details_url("rival", salon.service.id))
    assert response.status_code == 404
    assert NO_SERVICE in response.text


def test_booking_a_service_of_another_business_saves_nothing(client, salon, rival, session):
    rival_service = rival.service
    token = csrf_token(client.get(details_url("rival", rival_service.id)).text)
    response = client.post(
        details_url("rival", salon.service.id), data={"csrf_token": token, **DETAILS, **CONSENTS}
    )
    assert response.status_code == 404
    assert NO_SERVICE in response.text
    assert count(session, Booking) == 0
    assert count(session, Client) == 0


def test_provider_of_another_business_cannot_be_chosen(client, salon, rival, session):
    rival_service = rival.service
    url = f"/b/rival/services/{rival_service.id}?provider={salon.provider.id}"
    response = client.get(url)
    assert response.status_code == 404
    assert "That provider does not offer this service." in response.text
    details = details_url("rival", rival_service.id, provider=salon.provider.id)
    assert client.get(details).status_code == 404


def test_manage_link_of_another_business_is_not_found(client, salon, rival, session):
    manage_path = book(client, "salon", salon.service.id)
    token = manage_path.rsplit("/", 1)[1]
    response = client.get(f"/b/rival/manage/{token}")
    assert response.status_code == 404
    assert INVALID_LINK in response.text
    assert "Mia Example" not in response.text
    assert "Haircut" not in response.text


def test_cancelling_through_another_business_changes_nothing(client, salon, rival, session):
    manage_path = book(client, "salon", salon.service.id)
    token = manage_path.rsplit("/", 1)[1]
    form = csrf_token(client.get(manage_path).text)
    response = client.post(f"/b/rival/manage/{token}/cancel", data={"csrf_token": form})
    assert response.status_code == 404
    assert INVALID_LINK in response.text
    session.rollback()
    assert session.scalars(select(Booking)).one().status == "confirmed"


def test_same_client_email_makes_separate_clients_per_business(client, salon, rival, session):
    rival_service = rival.service
    book(client, "salon", salon.service.id)
    book(client, "rival", rival_service.id)
    assert count(session, Client, business_id=salon.business.id) == 1
    assert count(session, Client, business_id=rival.business.id) == 1
    salon_booking, rival_booking = session.scalars(select(Booking).order_by(Booking.id)).all()
    assert salon_booking.client.business_id == salon.business.id
    assert rival_booking.client.business_id == rival.business.id
    assert salon_booking.client_id != rival_booking.client_id


def test_a_booking_in_one_business_leaves_the_other_free(client, salon, rival):
    rival_service = rival.service
    book(client, "salon", salon.service.id)
    assert client.get(details_url("rival", rival_service.id)).status_code == 200


def test_policy_pages_show_only_the_business_own_texts(client, salon, rival, session):
    response = client.get("/b/rival/terms")
    assert response.status_code == 404
    assert "Rival Studio has not published terms and conditions." in response.text
    assert "Be on time." not in response.text
    response = client.get("/b/rival/cancellation-policy")
    assert response.status_code == 404
    assert "Cancel free of charge" not in response.text

    business = rival.business
    enable_terms(session, business, body="Rival rules apply.")
    session.commit()
    rival_terms = client.get("/b/rival/terms").text
    assert "Rival rules apply." in rival_terms
    assert "Be on time." not in rival_terms
    assert "Rival rules apply." not in client.get("/b/salon/terms").text
