"""Each kind of page carries the headers the MDN HTTP Observatory grades, over HTTPS.

Kinds: a public page, a client's manage page (secret URL) and a staff page.
"""

from __future__ import annotations

import pytest

from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD, csrf_token
from tests.factories import CONSENTS, DETAILS
from tests.test_security_headers import details_url, policy_of

HTTPS = "https://localhost"


@pytest.fixture
def app_env(app_env, monkeypatch):
    monkeypatch.setenv("PORTAL_FORCE_HTTPS", "on")
    return {**app_env, "PORTAL_FORCE_HTTPS": "on"}


def post_form(client, path: str, data: dict):
    page = client.get(path, base_url=HTTPS)
    # A browser sends the page it posts from as the Referer (Flask-WTF checks it over HTTPS).
    return client.post(
        path,
        data={"csrf_token": csrf_token(page.text), **data},
        base_url=HTTPS,
        headers={"Referer": HTTPS + path},
    )


@pytest.fixture
def page_kinds(client, salon, owner):
    booked = post_form(client, details_url(salon), {**DETAILS, **CONSENTS})
    assert booked.status_code == 303
    public = client.get("/b/salon/", base_url=HTTPS)
    manage = client.get(booked.headers["Location"], base_url=HTTPS)
    signed_in = post_form(
        client, "/staff/login", {"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
    )
    assert signed_in.status_code == 302
    staff = client.get("/staff/", base_url=HTTPS)
    pages = {"public": public, "manage": manage, "staff": staff}
    assert {kind: page.status_code for kind, page in pages.items()} == dict.fromkeys(pages, 200)
    return pages


@pytest.mark.parametrize("kind", ["public", "manage", "staff"])
def test_csp_uses_nonces_and_locks_down_base_objects_and_framing(page_kinds, kind):
    policy = policy_of(page_kinds[kind])
    assert any(source.startswith("'nonce-") for source in policy["script-src"])
    assert any(source.startswith("'nonce-") for source in policy["style-src"])
    assert "'unsafe-inline'" not in sum(policy.values(), [])
    assert "'unsafe-eval'" not in sum(policy.values(), [])
    assert policy["default-src"] == ["'self'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


@pytest.mark.parametrize("kind", ["public", "manage", "staff"])
def test_hsts_lasts_a_year_with_subdomains(page_kinds, kind):
    hsts = page_kinds[kind].headers["Strict-Transport-Security"]
    max_age = int(hsts.split(";")[0].split("=")[1])
    assert max_age >= 365 * 24 * 3600
    assert "includeSubDomains" in hsts


@pytest.mark.parametrize("kind", ["public", "manage", "staff"])
def test_sniffing_and_framing_are_refused(page_kinds, kind):
    assert page_kinds[kind].headers["X-Content-Type-Options"] == "nosniff"
    assert page_kinds[kind].headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        ("public", "strict-origin-when-cross-origin"),
        ("manage", "no-referrer"),
        ("staff", "strict-origin-when-cross-origin"),
    ],
)
def test_referrer_policy_is_strict_and_none_for_secret_urls(page_kinds, kind, policy):
    assert page_kinds[kind].headers["Referrer-Policy"] == policy


@pytest.mark.parametrize(
    ("kind", "stored"), [("public", True), ("manage", False), ("staff", False)]
)
def test_manage_and_staff_pages_are_never_stored(page_kinds, kind, stored):
    cache_control = page_kinds[kind].headers.get("Cache-Control", "")
    assert ("no-store" not in cache_control) is stored


def test_session_cookies_are_host_bound_secure_http_only_and_lax(client, salon, owner):
    page = client.get("/staff/login", base_url=HTTPS)
    cookies = page.headers.getlist("Set-Cookie")
    [session_cookie] = [c for c in cookies if c.startswith("__Host-portal=")]
    attributes = [part.strip().lower() for part in session_cookie.split(";")]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes)
    assert not any(part.startswith("domain=") for part in attributes)


def test_static_files_may_be_cached(client):
    response = client.get("/static/portal.css", base_url=HTTPS)
    response.close()
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
