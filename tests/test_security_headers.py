"""Security headers, HTTPS and the markup rules the CSP relies on."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token, path_of
from tests.factories import CONSENTS, DETAILS

SLOT_PARAM = "2026-03-03T09:00Z"

POST_FORM = re.compile(r"<form\b[^>]*\bmethod=\"post\"[^>]*>(.*?)</form>", re.I | re.S)
ANY_FORM = re.compile(r"<form\b[^>]*>", re.I)
CSRF_FIELD = re.compile(r'<input\b[^>]*\bname="csrf_token"[^>]*\btype="hidden"', re.I)
#: Inline code; a JSON-LD data block (never run) is not.
INLINE_SCRIPT = re.compile(
    r'<script\b(?![^>]*\bsrc=)(?![^>]*type="application/ld\+json")[^>]*>', re.I
)
#: A style element without the CSP nonce (the accent colour's nonce'd block is allowed).
STYLE_ELEMENT = re.compile(r"<style\b(?![^>]*\bnonce=\")", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)
EVENT_ATTRIBUTE = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"(href|src|action)\s*=\s*\"\s*javascript:", re.I)


def details_url(salon, start=SLOT_PARAM) -> str:
    return f"/b/salon/services/{salon.service.id}/book?provider=any&start={start}"


def book(client, salon, start=SLOT_PARAM) -> str:
    page = client.get(details_url(salon, start))
    data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS}
    response = client.post(details_url(salon, start), data=data)
    assert response.status_code == 303
    return path_of(response)


def policy_of(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as directive -> sources."""
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def client_pages(client, salon) -> dict[str, object]:
    """Every page a client can meet, keyed by a readable name."""
    manage_path = book(client, salon)
    token = csrf_token(client.get(manage_path).text)
    return {
        "services": client.get("/b/salon/"),
        "choose slot": client.get(f"/b/salon/services/{salon.service.id}?day=2026-03-03"),
        "details": client.get(details_url(salon, "2026-03-03T10:00Z")),
        "details with errors": client.post(
            details_url(salon, "2026-03-03T10:00Z"), data={"csrf_token": token}
        ),
        "manage": client.get(manage_path),
        "slot taken": client.get(details_url(salon)),
        "terms": client.get("/b/salon/terms"),
        "cancellation policy": client.get("/b/salon/cancellation-policy"),
        "unknown business": client.get("/b/nobody/"),
        "unknown page": client.get("/nowhere"),
        "bad request": client.get(details_url(salon, "garbage")),
        "not allowed": client.post("/b/salon/"),
        "form expired": client.post(
            details_url(salon, "2026-03-03T10:00Z"), data={**DETAILS, **CONSENTS}
        ),
        "cancelled": client.post(f"{manage_path}/cancel", data={"csrf_token": token}),
    }


@pytest.fixture
def pages(client, salon):
    return client_pages(client, salon)


def test_pages_answer_as_expected(pages):
    statuses = {name: response.status_code for name, response in pages.items()}
    assert statuses == {
        "services": 200,
        "choose slot": 200,
        "details": 200,
        "details with errors": 422,
        "manage": 200,
        "slot taken": 409,
        "terms": 200,
        "cancellation policy": 200,
        "unknown business": 404,
        "unknown page": 404,
        "bad request": 400,
        "not allowed": 405,
        "form expired": 400,
        "cancelled": 303,
    }


def test_every_page_carries_a_strict_csp_with_a_nonce(pages):
    for name, response in pages.items():
        directives = policy_of(response)
        assert any(src.startswith("'nonce-") for src in directives["script-src"]), name
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"], name
        assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"], name
        assert directives["object-src"] == ["'none'"], name
        assert directives["base-uri"] == ["'none'"], name
        assert directives["frame-ancestors"] == ["'none'"], name
        assert directives["default-src"] == ["'self'"], name


def test_each_response_gets_a_fresh_nonce(client, salon):
    first = policy_of(client.get("/b/salon/"))["script-src"]
    second = policy_of(client.get("/b/salon/"))["script-src"]
    assert first != second


def test_every_page_forbids_sniffing_and_framing(pages):
    for name, response in pages.items():
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["X-Frame-Options"] == "DENY", name


def test_normal_pages_send_only_the_origin_to_other_sites(pages):
    for name, response in pages.items():
        if name in {"manage", "cancelled"}:
            continue
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", name


def test_pages_with_a_manage_token_in_the_url_send_no_referrer(client, salon):
    manage_path = book(client, salon)
    page = client.get(manage_path)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    token = csrf_token(page.text)
    cancelled = client.post(f"{manage_path}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 303
    assert cancelled.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/b/salon/manage/not-a-token").headers["Referrer-Policy"] == "no-referrer"


def test_health_check_carries_the_headers_too(client):
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert policy_of(response)["frame-ancestors"] == ["'none'"]


def test_plain_http_gets_no_hsts_when_https_is_not_forced(client, salon):
    response = client.get("/b/salon/")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_every_post_form_carries_a_csrf_token(pages):
    seen = 0
    for name, response in pages.items():
        for form in ANY_FORM.findall(response.text):
            assert re.search(r'method="(get|post)"', form, re.I), (name, form)
        for body in POST_FORM.findall(response.text):
            seen += 1
            assert CSRF_FIELD.search(body), name
    assert seen >= 3  # details, details with errors, manage


def test_pages_have_no_inline_script_or_style(pages):
    for name, response in pages.items():
        html = response.text
        assert response.content_type == "text/html; charset=utf-8", name
        assert not INLINE_SCRIPT.search(html), name
        assert not STYLE_ELEMENT.search(html), name
        assert not STYLE_ATTRIBUTE.search(html), name
        assert not EVENT_ATTRIBUTE.search(html), name
        assert not JS_URL.search(html), name


class TestForcedHttps:
    @pytest.fixture
    def app_env(self, app_env, monkeypatch):
        monkeypatch.setenv("PORTAL_FORCE_HTTPS", "on")
        return {**app_env, "PORTAL_FORCE_HTTPS": "on"}

    def test_plain_http_is_redirected_to_https(self, client, salon):
        response = client.get("/b/salon/?x=1")
        assert response.status_code == 301
        assert response.headers["Location"] == "https://localhost/b/salon/?x=1"

    def test_plain_http_is_redirected_before_anything_else(self, client, salon):
        unknown = client.get("/b/nobody/")
        assert unknown.status_code == 301
        assert unknown.headers["Location"] == "https://localhost/b/nobody/"
        post = client.post(details_url(salon), data={**DETAILS, **CONSENTS})
        assert post.status_code == 301
        assert post.headers["Location"].startswith("https://localhost/b/salon/services/")

    def test_https_pages_carry_hsts_for_a_year_with_subdomains(self, client, salon):
        response = client.get("/b/salon/", base_url="https://localhost")
        assert response.status_code == 200
        assert (
            response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        )

    def test_https_error_pages_carry_hsts(self, client, salon):
        response = client.get("/b/nobody/", base_url="https://localhost")
        assert response.status_code == 404
        assert "max-age=31536000" in response.headers["Strict-Transport-Security"]

    def test_session_cookie_is_secure_http_only_and_lax(self, client, salon):
        page = client.get(details_url(salon), base_url="https://localhost")
        assert page.status_code == 200
        name = client.application.config["SESSION_COOKIE_NAME"]
        [cookie] = [c for c in page.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert "secure" in attributes
        assert "httponly" in attributes
        assert "samesite=lax" in attributes

    def test_booking_and_cancelling_work_over_https(self, client, salon, session):
        base = "https://localhost"
        page = client.get(details_url(salon), base_url=base)
        data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS}
        # A browser sends the details page as the referrer (same origin).
        referrer = {"Referer": f"{base}{details_url(salon)}"}
        response = client.post(details_url(salon), data=data, base_url=base, headers=referrer)
        assert response.status_code == 303
        manage_path = path_of(response)
        manage = client.get(response.headers["Location"], base_url=base)
        assert "Your booking is confirmed" in manage.text
        assert manage.headers["Referrer-Policy"] == "no-referrer"
        # The manage page asks for no referrer, so its cancel form arrives without one.
        token = {"csrf_token": csrf_token(manage.text)}
        cancelled = client.post(f"{manage_path}/cancel", data=token, base_url=base)
        assert cancelled.status_code == 303
        done = client.get(cancelled.headers["Location"], base_url=base)
        assert "Your booking is cancelled" in done.text

    def test_https_booking_post_from_another_site_is_refused(self, client, salon, session):
        base = "https://localhost"
        page = client.get(details_url(salon), base_url=base)
        data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS}
        referrer = {"Referer": "https://evil.example/"}
        response = client.post(details_url(salon), data=data, base_url=base, headers=referrer)
        assert response.status_code == 400
        assert "Form expired" in response.text

    def test_https_cancel_without_a_csrf_token_is_refused(self, client, salon, session):
        base = "https://localhost"
        page = client.get(details_url(salon), base_url=base)
        data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS}
        referrer = {"Referer": f"{base}{details_url(salon)}"}
        manage_path = path_of(
            client.post(details_url(salon), data=data, base_url=base, headers=referrer)
        )
        refused = client.post(f"{manage_path}/cancel", data={}, base_url=base)
        assert refused.status_code == 400
        assert "Form expired" in refused.text
        assert "Cancel this booking" in client.get(manage_path, base_url=base).text

    def test_health_check_answers_over_plain_http(self, client):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json == {"status": "ok", "database": "ok"}
