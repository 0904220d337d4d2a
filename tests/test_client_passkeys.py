"""Client passkeys at /b/<slug>/account: off by default, then add, sign in, remove.

Every ceremony is answered by the software authenticator of
``tests/webauthn_authenticator.py`` (real P-256 keys, real signatures) and
checked by py_webauthn on the server: no verification is mocked.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json

import pytest
from sqlalchemy import select

from portal.accounts.models import ClientAccount, Passkey, SecuritySettings
from portal.accounts.passwords import hash_password
from portal.audit.models import AuditEvent
from portal.clients.models import Client
from tests.conftest import NOW, csrf_token, outbox
from tests.conftest import sign_in as staff_sign_in
from tests.factories import make_business
from tests.webauthn_authenticator import SoftAuthenticator

BASE_URL = "http://localhost"
EMAIL = "mia@example.com"
PASSWORD = "copper kettle meadow 71"


@pytest.fixture
def app_env(app_env, monkeypatch):
    """Passkeys need a domain: the test client's own host, ``localhost``."""
    monkeypatch.setenv("PORTAL_BASE_URL", BASE_URL)
    return {**app_env, "PORTAL_BASE_URL": BASE_URL}


def settings_of(session, business) -> SecuritySettings:
    settings = session.get(SecuritySettings, business.id)
    if settings is None:
        settings = SecuritySettings.defaults(business.id)
        session.add(settings)
    return settings


def offer(session, business, *, passkeys: bool) -> None:
    settings = settings_of(session, business)
    settings.client_accounts_enabled = True
    settings.client_passkeys_enabled = passkeys
    session.commit()


def make_account(session, business, email_address=EMAIL) -> ClientAccount:
    """A confirmed client account (the sign-up itself is tested in test_client_accounts)."""
    client = Client(business_id=business.id, name="Mia Example", email=email_address, phone="")
    session.add(client)
    session.flush()
    account = ClientAccount(
        business_id=business.id,
        client_id=client.id,
        email=email_address,
        name="Mia Example",
        password_hash=hash_password(PASSWORD),
        email_verified_at=NOW,
    )
    session.add(account)
    session.commit()
    return account


@pytest.fixture
def mia(session, salon):
    return make_account(session, salon.business)


@pytest.fixture
def passkeys_on(session, salon, mia):
    offer(session, salon.business, passkeys=True)
    return salon


def sign_in(client, slug="salon"):
    page = client.get(f"/b/{slug}/account/login")
    return client.post(
        f"/b/{slug}/account/login",
        data={"csrf_token": csrf_token(page.text), "email": EMAIL, "password": PASSWORD},
    )


def post_json(client, url: str, token: str, body) -> object:
    return client.post(
        url, data=json.dumps(body), content_type="application/json", headers={"X-CSRFToken": token}
    )


def add_passkey(client, authenticator, name="my phone", password=PASSWORD, slug="salon"):
    """The page's add form, as passkeys.js sends it; the finish response."""
    page = client.get(f"/b/{slug}/account/passkeys")
    token = csrf_token(page.text)
    options = client.post(
        f"/b/{slug}/account/passkeys/options",
        data={"csrf_token": token, "name": name, "confirm": password},
    )
    if options.status_code != 200:
        return options
    credential = json.loads(authenticator.register(options.text, BASE_URL))
    return post_json(
        client, f"/b/{slug}/account/passkeys", token, {"credential": credential, "name": name}
    )


def passkey_sign_in(client, authenticator, slug="salon", **knobs):
    page = client.get(f"/b/{slug}/account/login")
    token = csrf_token(page.text)
    options = client.post(f"/b/{slug}/account/passkey/options", headers={"X-CSRFToken": token})
    assert options.status_code == 200, options.text
    credential = json.loads(authenticator.authenticate(options.text, BASE_URL, **knobs))
    return post_json(client, f"/b/{slug}/account/passkey", token, {"credential": credential})


def sign_out(client, slug="salon"):
    page = client.get(f"/b/{slug}/account/")
    client.post(f"/b/{slug}/account/logout", data={"csrf_token": csrf_token(page.text)})


def events(session, kind: str) -> list[AuditEvent]:
    session.rollback()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def subjects(app) -> list[str]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"]
        for path in outbox(app)
    ]


# --- Off by default ------------------------------------------------------------


def test_passkeys_are_off_by_default_and_their_urls_answer_404(client, session, salon, mia):
    offer(session, salon.business, passkeys=False)
    assert sign_in(client).status_code == 302
    page = client.get("/b/salon/account/passkeys")
    assert page.status_code == 404
    assert "does not offer passkeys" in page.text
    token = csrf_token(client.get("/b/salon/account/").text)
    for url in ("/b/salon/account/passkeys/options", "/b/salon/account/passkey/options"):
        assert client.post(url, headers={"X-CSRFToken": token}).status_code == 404
    assert 'href="/b/salon/account/passkeys"' not in client.get("/b/salon/account/").text
    sign_out(client)
    assert 'id="passkey-signin"' not in client.get("/b/salon/account/login").text


def test_without_client_accounts_the_passkey_pages_answer_404_too(client, session, salon, mia):
    settings = settings_of(session, salon.business)
    settings.client_passkeys_enabled = True  # accounts stay off
    session.commit()
    assert client.get("/b/salon/account/passkeys").status_code == 404
    assert client.get("/b/salon/account/login").status_code == 404


# --- Add, sign in, remove ---------------------------------------------------------


def test_a_client_adds_a_passkey_signs_in_with_it_and_removes_it(app, client, session, passkeys_on):
    authenticator = SoftAuthenticator()
    assert sign_in(client).status_code == 302
    bookings = client.get("/b/salon/account/")
    assert 'href="/b/salon/account/passkeys"' in bookings.text
    page = client.get("/b/salon/account/passkeys")
    assert page.status_code == 200
    assert 'id="passkey-add"' in page.text and "You have no passkey yet." in page.text

    finish = add_passkey(client, authenticator)
    assert finish.status_code == 200, finish.text
    assert finish.json == {"redirect": "/b/salon/account/passkeys"}
    session.rollback()
    [stored] = session.scalars(select(Passkey)).all()
    assert (stored.client_account_id, stored.staff_user_id) == (passkeys_on_account(session), None)
    assert stored.name == "my phone" and stored.business_id == passkeys_on.business.id
    assert "my phone" in client.get("/b/salon/account/passkeys").text
    [added] = events(session, "passkey.added")
    assert added.actor_kind == "client" and added.details["name"] == "my phone"
    assert "A passkey was added to your account" in subjects(app)

    sign_out(client)
    login = client.get("/b/salon/account/login")
    assert 'id="passkey-signin"' in login.text and 'data-passkey="get"' in login.text
    signed_in = passkey_sign_in(client, authenticator)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json == {"redirect": "/b/salon/account/"}
    assert client.get("/b/salon/account/").status_code == 200
    success = events(session, "signin.success")[-1]
    assert success.details.get("method") == "passkey" and success.actor_kind == "client"

    token = csrf_token(client.get("/b/salon/account/passkeys").text)
    removed = client.post(
        f"/b/salon/account/passkeys/{stored.id}/remove", data={"csrf_token": token}
    )
    assert removed.status_code == 303
    session.rollback()
    assert session.scalars(select(Passkey)).all() == []
    assert events(session, "passkey.removed")[0].details["name"] == "my phone"
    assert "A passkey was removed from your account" in subjects(app)

    sign_out(client)
    refused = passkey_sign_in(client, authenticator)
    assert refused.status_code == 400 and "could not be used" in refused.json["error"]
    assert client.get("/b/salon/account/").status_code == 302


def passkeys_on_account(session) -> int:
    return session.scalars(select(ClientAccount.id).where(ClientAccount.email == EMAIL)).one()


def test_adding_a_passkey_needs_the_password(client, session, passkeys_on):
    assert sign_in(client).status_code == 302
    wrong = add_passkey(client, SoftAuthenticator(), password="not my password")
    assert wrong.status_code == 422
    assert wrong.json == {"error": "Your password was not correct."}
    [failure] = events(session, "passkey.failure")
    assert failure.details["reason"] == "identity not confirmed"
    unnamed = add_passkey(client, SoftAuthenticator(), name="  ")
    assert unnamed.status_code == 422 and unnamed.json["error"].startswith(
        "Give the passkey a name"
    )
    # Without the options step (no password re-entered), the finish is refused.
    token = csrf_token(client.get("/b/salon/account/passkeys").text)
    direct = post_json(client, "/b/salon/account/passkeys", token, {"credential": {}, "name": "x"})
    assert direct.status_code == 422
    assert direct.json["error"].startswith("Please enter your password again")
    session.rollback()
    assert session.scalars(select(Passkey)).all() == []


def test_the_add_pages_need_a_signed_in_client(client, passkeys_on):
    assert client.get("/b/salon/account/passkeys").status_code == 302
    token = csrf_token(client.get("/b/salon/account/login").text)
    answer = client.post(
        "/b/salon/account/passkeys/options",
        data={"csrf_token": token, "name": "x", "confirm": PASSWORD},
    )
    assert answer.status_code == 401 and answer.json["error"]


@pytest.mark.parametrize(
    "body",
    ["not json", json.dumps([1, 2]), json.dumps({"credential": "text"}), json.dumps({})],
)
def test_malformed_sign_in_bodies_are_refused_with_a_message(client, passkeys_on, body):
    token = csrf_token(client.get("/b/salon/account/login").text)
    client.post("/b/salon/account/passkey/options", headers={"X-CSRFToken": token})
    answer = client.post(
        "/b/salon/account/passkey",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 400
    assert answer.json["error"] == "The request did not contain a passkey response."


def test_a_forged_credential_is_refused_and_audited(client, session, passkeys_on):
    authenticator = SoftAuthenticator()
    assert sign_in(client).status_code == 302
    assert add_passkey(client, authenticator).status_code == 200
    sign_out(client)
    forged = passkey_sign_in(client, authenticator, credential_id=b"\x01" * 32)
    assert forged.status_code == 400
    assert client.get("/b/salon/account/").status_code == 302
    assert [e.details["reason"] for e in events(session, "passkey.failure")] == ["unknown passkey"]


# --- Scoped to the business ------------------------------------------------------------


def test_a_passkey_of_one_business_does_not_sign_in_at_another(client, session, passkeys_on):
    other = make_business(session, slug="other", name="Other Place")
    session.commit()
    make_account(session, other)  # the same person, an account at the other business too
    offer(session, other, passkeys=True)
    authenticator = SoftAuthenticator()
    assert sign_in(client).status_code == 302
    assert add_passkey(client, authenticator).status_code == 200
    sign_out(client)

    refused = passkey_sign_in(client, authenticator, slug="other")
    assert refused.status_code == 400
    assert client.get("/b/other/account/").status_code == 302
    [failure] = events(session, "passkey.failure")
    assert failure.business_id == other.id and failure.details["reason"] == "unknown passkey"
    # At its own business it still works.
    assert passkey_sign_in(client, authenticator).status_code == 200


def test_on_another_host_the_pages_say_where_passkeys_work(client, passkeys_on):
    """The portal answers at 127.0.0.1 too (outside production), but passkeys are localhost's."""
    elsewhere = "http://127.0.0.1"
    login = client.get("/b/salon/account/login", base_url=elsewhere)
    assert login.status_code == 200 and 'id="passkey-signin"' not in login.text
    signed_in = client.post(
        "/b/salon/account/login",
        base_url=elsewhere,
        data={"csrf_token": csrf_token(login.text), "email": EMAIL, "password": PASSWORD},
    )
    assert signed_in.status_code == 302
    page = client.get("/b/salon/account/passkeys", base_url=elsewhere)
    assert page.status_code == 200
    assert "Passkeys work only at http://localhost." in page.text
    assert 'id="passkey-add"' not in page.text


def test_erasing_the_client_removes_their_passkeys(app, client, session, passkeys_on, owner):
    from portal.audit.service import Origin
    from portal.clients.rights import erase_client

    assert sign_in(client).status_code == 302
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    session.rollback()
    mia_client = session.scalars(select(Client).where(Client.email == EMAIL)).one()
    with app.test_request_context():
        erase_client(session, mia_client, owner, NOW, Origin())
    session.commit()
    assert session.scalars(select(Passkey)).all() == []


def test_the_client_data_export_lists_their_passkeys_without_key_material(
    client, session, passkeys_on, owner
):
    assert sign_in(client).status_code == 302
    assert add_passkey(client, SoftAuthenticator(), name="my phone").status_code == 200
    sign_out(client)
    session.rollback()
    mia_client = session.scalars(select(Client).where(Client.email == EMAIL)).one()
    stored = session.scalars(select(Passkey)).one()
    assert staff_sign_in(client).status_code == 302
    response = client.get(f"/staff/clients/{mia_client.id}/data.json")
    assert response.status_code == 200
    [exported] = json.loads(response.text)["account"]["passkeys"]
    assert exported["name"] == "my phone"
    assert exported["created_at"] == stored.created_at.isoformat()
    assert exported["last_used_at"] is None
    public_key = base64.urlsafe_b64encode(stored.public_key).decode().rstrip("=")
    assert public_key not in response.text
    assert stored.public_key.hex() not in response.text
