"""Embedding the public pages: the owner's allowlist, frame headers, embed mode, cookies."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.businesses.models import Business
from portal.embedding.service import parse_origin
from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD, csrf_token, outbox, sign_in
from tests.factories import CONSENTS, DETAILS

ALLOWED = ["https://www.salon.example", "https://salon.example:8443"]
SLOT_PARAM = "2026-03-03T09:00Z"
HREF = re.compile(r'(?:href|action)="([^"]*)"')


def policy_of(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as directive -> sources."""
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def without_nonces(policy: dict[str, list[str]]) -> dict[str, list[str]]:
    return {
        name: [source for source in sources if not source.startswith("'nonce-")]
        for name, sources in policy.items()
    }


def allow(session, salon, origins=ALLOWED) -> None:
    business = session.get(Business, salon.business.id)
    business.embed_origins = "\n".join(origins)
    session.commit()


def stored_origins(session, salon) -> str:
    """What a request committed (the reader may hold no transaction to roll back)."""
    session.rollback()
    business = session.get(Business, salon.business.id)
    session.refresh(business)
    return business.embed_origins


def settings_changes(session) -> list[dict]:
    session.rollback()
    events = session.scalars(select(AuditEvent).where(AuditEvent.kind == "settings.changed"))
    return [event.details for event in events if event.details.get("area") == "embedding"]


def details_url(salon, start=SLOT_PARAM, embed=True) -> str:
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start={start}"
    return f"{url}&embed=1" if embed else url


def links(page) -> list[str]:
    return [html.unescape(link) for link in HREF.findall(page.text)]


def has_chrome(page) -> bool:
    return 'class="site-header' in page.text or 'class="site-footer' in page.text


# --- Who may frame which page -------------------------------------------------------------


def test_public_pages_may_be_framed_by_exactly_the_allowed_sites(client, session, salon):
    allow(session, salon)
    for path in ["/b/salon/", f"/b/salon/services/{salon.service.id}", "/b/salon/terms"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert policy_of(response)["frame-ancestors"] == ALLOWED, path
        assert "X-Frame-Options" not in response.headers, path


def test_framing_changes_nothing_else_in_the_policy(client, session, salon):
    allow(session, salon)
    public = without_nonces(policy_of(client.get("/b/salon/")))
    staff = without_nonces(policy_of(client.get("/staff/login")))
    assert public.pop("frame-ancestors") == ALLOWED
    assert staff.pop("frame-ancestors") == ["'none'"]
    assert public == staff
    assert any(s.startswith("'nonce-") for s in policy_of(client.get("/b/salon/"))["script-src"])


def test_error_pages_of_an_allowed_business_may_be_framed_too(client, session, salon):
    allow(session, salon)
    response = client.get(details_url(salon, start="garbage"))
    assert response.status_code == 400
    assert policy_of(response)["frame-ancestors"] == ALLOWED


def test_public_pages_may_not_be_framed_when_no_site_is_allowed(client, salon):
    for path in ["/b/salon/", "/b/salon/?embed=1", "/b/salon/terms"]:
        response = client.get(path)
        assert policy_of(response)["frame-ancestors"] == ["'none'"], path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_staff_pages_are_never_framed(owner_client, session, salon):
    allow(session, salon)
    # The sign-in page sends a signed-in owner on (302); the others are shown (200).
    statuses = {
        "/staff/": 200,
        "/staff/embedding": 200,
        "/staff/login?embed=1": 302,
        "/staff/embedding?embed=1": 200,
    }
    for path, status in statuses.items():
        response = owner_client.get(path)
        assert response.status_code == status, path
        assert policy_of(response)["frame-ancestors"] == ["'none'"], path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_health_check_and_unknown_pages_are_never_framed(client, session, salon):
    allow(session, salon)
    for path in ["/healthz", "/b/nobody/", "/b/salon/nowhere", "/static/portal.css"]:
        with client.get(path) as response:
            assert policy_of(response)["frame-ancestors"] == ["'none'"], path
            assert response.headers["X-Frame-Options"] == "DENY", path


def test_stored_lines_that_are_not_origins_never_reach_the_header(client, session, salon):
    allow(session, salon, ["https://ok.example", "https://evil.example; script-src *", "junk"])
    response = client.get("/b/salon/")
    assert policy_of(response)["frame-ancestors"] == ["https://ok.example"]
    assert policy_of(response)["script-src"][0] == "'self'"


# --- The owner's page ---------------------------------------------------------------------


def test_owner_sees_the_snippet_and_the_plain_link(owner_client, session, salon):
    allow(session, salon)
    page = owner_client.get("/staff/embedding")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert (
        '<iframe src="http://portal.test/b/salon/?embed=1" title="Book with Salon Test" '
        'width="100%" height="900" loading="lazy"></iframe>'
    ) in text
    assert 'href="http://portal.test/b/salon/"' in page.text
    assert "https://www.salon.example\nhttps://salon.example:8443" in text


def test_the_snippet_escapes_the_business_name(owner_client, session, salon):
    business = session.get(Business, salon.business.id)
    business.name = 'Cut & "Dye"'
    session.commit()
    allow(session, salon)
    text = html.unescape(owner_client.get("/staff/embedding").text)
    assert 'title="Book with Cut &amp; &#34;Dye&#34;"' in text


def test_without_an_allowed_site_the_page_says_how_to_start(owner_client, salon):
    page = owner_client.get("/staff/embedding")
    assert "No site may embed your booking pages yet" in page.text
    assert "&lt;iframe" not in page.text


def test_owners_find_embedding_in_the_staff_menu(owner_client):
    assert 'href="/staff/embedding"' in owner_client.get("/staff/").text


def test_saving_the_list_normalises_deduplicates_and_audits(owner_client, session, salon):
    allow(session, salon, ["https://old.example"])
    page = owner_client.get("/staff/embedding")
    typed = (
        "https://www.salon.example/\r\n\r\nHTTPS://Salon.Example:443\r\nhttps://www.salon.example"
    )
    response = owner_client.post(
        "/staff/embedding", data={"csrf_token": csrf_token(page.text), "embed_origins": typed}
    )
    assert response.status_code == 303
    assert stored_origins(session, salon) == "https://www.salon.example\nhttps://salon.example"
    [details] = settings_changes(session)
    assert details["changes"] == {
        "embed_origins": ["https://old.example", "https://www.salon.example\nhttps://salon.example"]
    }
    framed = owner_client.get("/b/salon/")
    assert policy_of(framed)["frame-ancestors"] == [
        "https://www.salon.example",
        "https://salon.example",
    ]


def test_saving_the_same_list_again_records_nothing(owner_client, session, salon):
    allow(session, salon)
    page = owner_client.get("/staff/embedding")
    data = {"csrf_token": csrf_token(page.text), "embed_origins": "\n".join(ALLOWED)}
    assert owner_client.post("/staff/embedding", data=data).status_code == 303
    assert "Nothing changed." in owner_client.get("/staff/embedding").text
    assert settings_changes(session) == []


def test_emptying_the_list_forbids_framing_again(owner_client, session, salon):
    allow(session, salon)
    page = owner_client.get("/staff/embedding")
    data = {"csrf_token": csrf_token(page.text), "embed_origins": ""}
    assert owner_client.post("/staff/embedding", data=data).status_code == 303
    assert stored_origins(session, salon) == ""
    assert policy_of(owner_client.get("/b/salon/"))["frame-ancestors"] == ["'none'"]


def test_local_http_sites_are_accepted_for_testing(owner_client, session, salon):
    page = owner_client.get("/staff/embedding")
    typed = "http://localhost:8080\nhttp://127.0.0.1"
    data = {"csrf_token": csrf_token(page.text), "embed_origins": typed}
    assert owner_client.post("/staff/embedding", data=data).status_code == 303
    assert stored_origins(session, salon) == typed


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("https://www.salon.example/booking", "without a path, query or #part"),
        ("https://www.salon.example?x=1", "without a path, query or #part"),
        ("https://*.salon.example", "wildcards (*) are not allowed"),
        ("*", "wildcards (*) are not allowed"),
        ("http://www.salon.example", "must start with https://"),
        ("ftp://www.salon.example", "must start with https://"),
        ("my website", "is not a web address"),
        ("https://salon", "needs a domain"),
        ("https://sal on.example", "name is not valid"),
        ("https://www.salon.example:99999", "port must be a number"),
        ("https://user:secret@www.salon.example", "user name or password"),
    ],
)
def test_lines_that_are_not_sites_are_refused_with_a_message(
    owner_client, session, salon, line, message
):
    allow(session, salon, ["https://kept.example"])
    page = owner_client.get("/staff/embedding")
    typed = f"https://fine.example\n{line}"
    data = {"csrf_token": csrf_token(page.text), "embed_origins": typed}
    response = owner_client.post("/staff/embedding", data=data)
    assert response.status_code == 422
    assert f"Line 2 ({line})" in html.unescape(response.text)
    assert message in html.unescape(response.text)
    assert stored_origins(session, salon) == "https://kept.example"
    assert settings_changes(session) == []


@pytest.mark.parametrize(
    ("typed", "origin"),
    [
        ("  https://WWW.Salon.Example/  ", "https://www.salon.example"),
        ("https://salon.example:443", "https://salon.example"),
        ("https://salon.example:8443", "https://salon.example:8443"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://[2001:DB8::1]:8443", "https://[2001:db8::1]:8443"),
        ("http://localhost:80", "http://localhost"),
    ],
)
def test_origins_are_written_the_way_browsers_compare_them(typed, origin):
    assert parse_origin(typed) == origin


def test_more_than_twenty_sites_are_refused(owner_client, session, salon):
    page = owner_client.get("/staff/embedding")
    typed = "\n".join(f"https://site{n}.example" for n in range(21))
    data = {"csrf_token": csrf_token(page.text), "embed_origins": typed}
    response = owner_client.post("/staff/embedding", data=data)
    assert response.status_code == 422
    assert "List at most 20 sites; this list has 21." in response.text
    assert stored_origins(session, salon) == ""


def test_only_the_owner_may_open_the_page(client, staff_member):
    assert client.get("/staff/embedding").status_code == 302
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    assert client.get("/staff/embedding").status_code == 403
    assert 'href="/staff/embedding"' not in client.get("/staff/").text


# --- Embed mode ---------------------------------------------------------------------------


def test_embed_mode_drops_the_header_and_footer(client, salon):
    assert has_chrome(client.get("/b/salon/"))
    for path in ["/b/salon/?embed=1", "/b/salon/terms?embed=1", details_url(salon)]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert not has_chrome(page), path


def test_staff_pages_ignore_embed_mode(client, salon):
    assert 'class="site-header' in client.get("/staff/login?embed=1").text


def test_embed_mode_is_kept_through_the_booking_flow(client, session, salon):
    allow(session, salon)
    services = client.get("/b/salon/?embed=1")
    [choose] = [link for link in links(services) if "/services/" in link]
    assert choose == f"/b/salon/services/{salon.service.id}?embed=1"

    slots = client.get(f"/b/salon/services/{salon.service.id}?day=2026-03-03&embed=1")
    assert not has_chrome(slots)
    slot_links = [link for link in links(slots) if "/book?" in link]
    assert slot_links and all("embed=1" in link for link in slot_links)
    day_links = [link for link in links(slots) if "day=" in link]
    assert day_links and all("embed=1" in link for link in day_links)
    month_links = [link for link in links(slots) if "month=" in link]
    assert month_links and all("embed=1" in link for link in month_links)

    details = client.get(details_url(salon))
    assert not has_chrome(details)
    assert '<form method="post" class="panel" novalidate>' in details.text  # posts to its own URL
    assert all("embed=1" in link for link in links(details) if link.startswith("/b/"))

    booked = client.post(
        details_url(salon), data={"csrf_token": csrf_token(details.text), **DETAILS, **CONSENTS}
    )
    assert booked.status_code == 303
    manage_path = booked.headers["Location"]
    assert manage_path.startswith("/b/salon/manage/")
    assert manage_path.endswith("?done=booked&embed=1")

    manage = client.get(manage_path)
    assert "Your booking is confirmed" in manage.text
    assert not has_chrome(manage)
    cancel_action = f"{manage_path.split('?')[0]}/cancel?embed=1"
    assert cancel_action in links(manage)

    cancelled = client.post(cancel_action, data={"csrf_token": csrf_token(manage.text)})
    assert cancelled.status_code == 303
    assert cancelled.headers["Location"] == manage_path.replace("done=booked", "done=cancelled")
    assert "Your booking is cancelled" in client.get(cancelled.headers["Location"]).text


def test_emails_from_an_embedded_booking_carry_the_plain_link(app, client, salon):
    details = client.get(details_url(salon))
    booked = client.post(
        details_url(salon), data={"csrf_token": csrf_token(details.text), **DETAILS, **CONSENTS}
    )
    token_path = booked.headers["Location"].split("?")[0]
    [mail] = outbox(app)
    text = mail.read_text()
    assert f"http://portal.test{token_path}" in text
    assert "embed=1" not in text


def test_an_expired_form_in_the_frame_offers_the_full_page(client, session, salon):
    allow(session, salon)
    refused = client.post(details_url(salon), data={**DETAILS, **CONSENTS})
    assert refused.status_code == 400
    assert "Form expired" in refused.text
    assert not has_chrome(refused)
    assert '<a href="/b/salon/" target="_blank" rel="noopener">' in refused.text
    assert policy_of(refused)["frame-ancestors"] == ALLOWED


# --- The session cookie inside an allowed site's iframe ------------------------------------


def session_cookie(response, app) -> list[str]:
    name = app.config["SESSION_COOKIE_NAME"]
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    return [part.strip().lower() for part in cookie.split(";")]


def test_over_plain_http_the_embedded_cookie_stays_lax(app, client, session, salon):
    allow(session, salon)
    attributes = session_cookie(client.get(details_url(salon)), app)
    assert "samesite=lax" in attributes
    assert "partitioned" not in attributes


class TestOverHttps:
    BASE = "https://localhost"

    @pytest.fixture
    def app_env(self, app_env, monkeypatch):
        monkeypatch.setenv("PORTAL_FORCE_HTTPS", "on")
        return {**app_env, "PORTAL_FORCE_HTTPS": "on"}

    @pytest.fixture
    def allowed(self, session, salon):
        allow(session, salon)

    def test_an_embedded_page_sets_a_partitioned_cross_site_cookie(
        self, app, client, allowed, salon
    ):
        page = client.get(details_url(salon), base_url=self.BASE)
        assert page.status_code == 200
        attributes = session_cookie(page, app)
        assert "samesite=none" in attributes
        assert "secure" in attributes
        assert "partitioned" in attributes
        assert "httponly" in attributes

    def test_a_normal_page_keeps_a_lax_cookie(self, app, client, allowed, salon):
        attributes = session_cookie(
            client.get(details_url(salon, embed=False), base_url=self.BASE), app
        )
        assert "samesite=lax" in attributes
        assert "secure" in attributes
        assert "partitioned" not in attributes

    def test_an_embed_link_opened_as_the_whole_page_keeps_a_lax_cookie(
        self, app, client, allowed, salon
    ):
        page = client.get(
            details_url(salon), base_url=self.BASE, headers={"Sec-Fetch-Dest": "document"}
        )
        assert "samesite=lax" in session_cookie(page, app)

    def test_without_allowed_sites_the_cookie_stays_lax(self, app, client, salon):
        page = client.get(details_url(salon), base_url=self.BASE)
        assert "samesite=lax" in session_cookie(page, app)

    def test_a_complete_booking_works_inside_the_frame(self, app, client, allowed, salon):
        framed = {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "cross-site"}
        page = client.get(details_url(salon), base_url=self.BASE, headers=framed)
        assert "partitioned" in session_cookie(page, app)
        assert "samesite=none" in session_cookie(page, app)
        # The form inside the frame posts to the portal, so the referrer is the portal's page.
        headers = {
            **framed,
            "Sec-Fetch-Site": "same-origin",
            "Referer": self.BASE + details_url(salon),
        }
        data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS}
        booked = client.post(details_url(salon), data=data, base_url=self.BASE, headers=headers)
        assert booked.status_code == 303
        assert booked.headers["Location"].endswith("?done=booked&embed=1")
        manage = client.get(booked.headers["Location"], base_url=self.BASE, headers=framed)
        assert "Your booking is confirmed" in manage.text
        assert policy_of(manage)["frame-ancestors"] == ALLOWED
