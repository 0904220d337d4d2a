"""Portal answers only for its own hosts, and sends people to HTTPS at its own host.

Before: any Host header was served, and the HIPAA redirect and the plain-HTTP
redirector built their Location from it (``Host: evil.example`` →
``https://evil.example/…``); the redirector served one connection at a time
with no read timeout, so one idle connection stalled it.
"""

from __future__ import annotations

import http.client
import socket

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client

from portal import create_app
from portal.audit.models import AuditEvent
from portal.config import ConfigError, load_config
from portal.extensions import db as portal_db
from portal.web.transport import RedirectToHttps, https_netloc, serve_https_redirects
from tests.conftest import OWNER_EMAIL, csrf_token
from tests.services import free_port
from tests.test_hipaa import set_hipaa

EVIL = "http://evil.example"


def audit_events(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_foreign_host_gets_400_on_every_kind_of_page(client, salon):
    for path in ("/b/salon/", "/staff/login", "/staff/reset", "/static/portal.css", "/nowhere"):
        response = client.get(path, base_url=EVIL)
        assert response.status_code == 400, path
        assert "does not answer for that host name" in response.text
        assert "Location" not in response.headers
    assert client.get("/b/salon/").status_code == 200  # the test client's localhost


def test_a_password_reset_asked_for_under_a_foreign_host_is_refused_unsent(
    app, client, session, owner
):
    token = csrf_token(client.get("/staff/reset").text)
    before = audit_events(session)
    response = client.post(
        "/staff/reset", data={"csrf_token": token, "email": OWNER_EMAIL}, base_url=EVIL
    )
    assert response.status_code == 400
    assert "does not answer for that host name" in response.text  # not a CSRF refusal
    assert audit_events(session) == before


def test_the_hipaa_redirect_goes_to_the_configured_host(client, session, salon):
    set_hipaa(session, salon.business)
    response = client.get("/b/salon/?embed=1", headers={"X-Forwarded-Host": "evil.example"})
    assert response.status_code == 301
    assert response.headers["Location"] == "https://portal.test/b/salon/?embed=1"
    assert client.get("/b/salon/", base_url=EVIL).status_code == 400


def test_production_trusts_only_the_base_url_host_and_the_listed_ones(tmp_path):
    environ = {
        "PORTAL_ENV": "production",
        "PORTAL_SECRET_KEY": "x" * 40,
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_BASE_URL": "https://book.example.com",
    }
    assert load_config(environ)["TRUSTED_HOSTS"] == ["book.example.com"]
    listed = {**environ, "PORTAL_ALLOWED_HOSTS": " www.example.com, .salons.example "}
    assert load_config(listed)["TRUSTED_HOSTS"] == [
        "book.example.com",
        "www.example.com",
        ".salons.example",
    ]
    with pytest.raises(ConfigError, match="PORTAL_BASE_URL must be an http"):
        load_config({**environ, "PORTAL_BASE_URL": "book.example.com"})


def test_in_production_localhost_is_a_foreign_host_too(app_env, monkeypatch, salon):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_BASE_URL", "https://book.example.com")
    monkeypatch.setenv("PORTAL_ALLOWED_HOSTS", "www.example.com")
    app = create_app()
    try:
        client = app.test_client()
        assert client.get("/b/salon/", base_url="https://localhost").status_code == 400
        assert client.get("/b/salon/", base_url="https://book.example.com").status_code == 200
        assert client.get("/b/salon/", base_url="https://www.example.com").status_code == 200
    finally:
        portal_db.dispose_all()


def test_the_redirector_ignores_the_host_header():
    redirector = Client(RedirectToHttps(https_netloc("https://book.example.com")))
    response = redirector.get("/b/demo/?x=1", headers={"Host": "evil.example"})
    assert response.status_code == 301
    assert response.headers["Location"] == "https://book.example.com/b/demo/?x=1"
    # With TLS served by gunicorn on a port of its own, that port is kept.
    assert https_netloc("http://127.0.0.1:8000", 8443) == "127.0.0.1:8443"
    assert https_netloc("http://book.example.com", 443) == "book.example.com"


def test_an_idle_connection_neither_stalls_the_redirector_nor_stays_open():
    port = free_port()
    server = serve_https_redirects("127.0.0.1", port, "book.example.com", read_timeout=0.5)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/staff/")
            response = connection.getresponse()
            assert response.getheader("Location") == "https://book.example.com/staff/"
            connection.close()
            # The idle one is dropped after the read timeout: the server closes it.
            assert idle.recv(1) == b""
    finally:
        server.shutdown()
        server.server_close()
