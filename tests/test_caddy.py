"""The production recipe: Caddy (Debian's package) terminates HTTPS in front of gunicorn.

Caddy runs the proxy part of ``deploy/`` (``portal-proxy.caddy``) with its
internal CA (``tls internal``) on loopback instead of a public certificate;
Portal runs under ``gunicorn -c gunicorn.conf.py`` in production mode with
``PORTAL_TRUSTED_PROXIES=1``, as ``deploy/portal-web.service`` starts it. The
client trusts only Caddy's root certificate and connects from 127.0.0.2, so
the address Portal records can be told apart from Caddy's (127.0.0.1).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from tests.conftest import OWNER_EMAIL, csrf_token
from tests.gunicorn_server import stop_process
from tests.services import ServiceError, ensure_caddy_installed, free_port, wait_for_port
from tests.test_security_headers import policy_of

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CLIENT_ADDRESS = "127.0.0.2"


@pytest.fixture(scope="module")
def caddy_binary() -> str:
    try:
        return ensure_caddy_installed()
    except ServiceError as error:
        pytest.fail(f"Cannot install Caddy: {error}")


def test_the_production_caddyfile_serves_the_domain_from_one_setting(caddy_binary, tmp_path):
    adapted = subprocess.run(
        [caddy_binary, "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        env={**os.environ, "PORTAL_DOMAIN": "booking.example.com", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    server = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":443"]  # a named host: Caddy's automatic HTTPS
    route = server["routes"][0]
    assert route["match"] == [{"host": ["booking.example.com"]}]
    assert '"dial":"127.0.0.1:8000"' in json.dumps(route, separators=(",", ":"))


@pytest.fixture
def ports():
    return {"caddy_https": free_port(), "caddy_http": free_port(), "portal": free_port()}


@pytest.fixture
def portal_server(app_env, owner, ports, tmp_path):
    """Portal as deploy/portal-web.service runs it, on a loopback port of its own."""
    env = {
        **os.environ,
        **app_env,
        "PORTAL_ENV": "production",
        "PORTAL_BIND": f"127.0.0.1:{ports['portal']}",
        "PORTAL_WORKERS": "1",
        "PORTAL_TRUSTED_PROXIES": "1",
        "PORTAL_BASE_URL": f"https://localhost:{ports['caddy_https']}",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(ports["portal"], timeout=60, process=process)
    except ServiceError as error:
        raise ServiceError(f"{error}\n{stop_process(process, log)}") from error
    yield
    text = stop_process(process, log)
    assert "Traceback" not in text, text


@pytest.fixture
def caddy(caddy_binary, portal_server, ports, tmp_path):
    """Caddy with ``tls internal`` for localhost; yields its root CA certificate's path."""
    config = tmp_path / "Caddyfile"
    config.write_text(
        "{\n"
        "\tadmin off\n"
        "\tskip_install_trust\n"
        f"\thttp_port {ports['caddy_http']}\n"
        "}\n"
        f"https://localhost:{ports['caddy_https']} {{\n"
        "\tbind 127.0.0.1\n"
        "\ttls internal\n"
        f"\timport {DEPLOY / 'portal-proxy.caddy'}\n"
        "}\n"
    )
    data = tmp_path / "caddy-data"
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(data),
        "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
        "PORTAL_UPSTREAM": f"127.0.0.1:{ports['portal']}",
    }
    log = tmp_path / "caddy.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [caddy_binary, "run", "--config", str(config), "--adapter", "caddyfile"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    root = data / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        wait_for_port(ports["caddy_https"], process=process)
        wait_for_port(ports["caddy_http"], process=process)
        _wait_for_certificate(ports["caddy_https"], root, process)
    except ServiceError as error:
        raise ServiceError(f"{error}\n{stop_process(process, log)}") from error
    yield root
    stop_process(process, log)


def _wait_for_certificate(port: int, root: Path, process: subprocess.Popen) -> None:
    """Until Caddy's CA exists and a handshake with its certificate for localhost succeeds."""
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = https(port, root)
            connection.connect()
            connection.close()
            return
        except (OSError, ssl.SSLError):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServiceError("Caddy did not serve its internal certificate") from None
            time.sleep(0.1)


def https(port: int, root: Path) -> http.client.HTTPSConnection:
    """A connection that trusts Caddy's root CA alone, from the client's own address."""
    context = ssl.create_default_context(cafile=str(root))
    return http.client.HTTPSConnection(
        "localhost", port, context=context, timeout=10, source_address=(CLIENT_ADDRESS, 0)
    )


def fetch(port: int, root: Path, method: str, path: str, body: str = "", headers=None):
    connection = https(port, root)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        response.tls_version = connection.sock.version()
        response.text = response.read().decode()
        return response
    finally:
        connection.close()


def test_through_caddy_pages_carry_hsts_host_cookies_and_the_graded_headers(caddy, ports):
    page = fetch(ports["caddy_https"], caddy, "GET", "/staff/login")

    assert page.status == 200
    assert page.tls_version in ("TLSv1.2", "TLSv1.3")
    hsts = page.getheader("Strict-Transport-Security")
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    cookie = page.getheader("Set-Cookie")
    assert cookie.startswith("__Host-portal=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path"} <= attributes and "domain" not in attributes
    policy = policy_of(page)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in sum(policy.values(), [])
    assert page.getheader("X-Content-Type-Options") == "nosniff"
    assert page.getheader("X-Frame-Options") == "DENY"
    assert page.getheader("Referrer-Policy") in ("no-referrer", "strict-origin-when-cross-origin")
    assert page.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    assert page.getheader("Cross-Origin-Resource-Policy") == "same-origin"
    assert page.getheader("Server") is None


def test_caddy_redirects_plain_http_to_https(caddy, ports):
    connection = http.client.HTTPConnection("localhost", ports["caddy_http"], timeout=10)
    try:
        connection.request("GET", "/staff/login?next=/staff/")
        response = connection.getresponse()
    finally:
        connection.close()

    assert response.status in (301, 308)
    assert response.getheader("Location") == (
        f"https://localhost:{ports['caddy_https']}/staff/login?next=/staff/"
    )


def test_portal_records_the_clients_address_not_caddys_nor_a_forged_one(caddy, ports, session):
    port = ports["caddy_https"]
    page = fetch(port, caddy, "GET", "/staff/login")
    cookie = page.getheader("Set-Cookie").split(";")[0]
    form = urlencode(
        {"csrf_token": csrf_token(page.text), "email": OWNER_EMAIL, "password": "not it at all"}
    )

    refused = fetch(
        port,
        caddy,
        "POST",
        "/staff/login",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "Referer": f"https://localhost:{port}/staff/login",
            "X-Forwarded-For": "203.0.113.9",
        },
    )

    assert refused.status == 422, refused.text
    session.rollback()
    failures = session.scalars(select(AuditEvent).where(AuditEvent.kind == "signin.failure"))
    assert [event.ip_address for event in failures] == [CLIENT_ADDRESS]
