"""gunicorn.conf.py serves TLS 1.2+ with a real certificate, HSTS, and redirects plain HTTP."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ca():
    return trustme.CA()


@pytest.fixture
def server(app_env, tmp_path, ca):
    """gunicorn with a trustme certificate for 127.0.0.1, and the HTTP redirector."""
    cert = ca.issue_cert("127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    https_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        **app_env,
        "PORTAL_ENV": "production",
        # In production Portal answers only for the host of its base URL.
        "PORTAL_BASE_URL": f"https://127.0.0.1:{https_port}",
        "PORTAL_BIND": f"127.0.0.1:{https_port}",
        "PORTAL_WORKERS": "1",
        "PORTAL_TLS_CERT": str(cert_path),
        "PORTAL_TLS_KEY": str(key_path),
        "PORTAL_HTTP_REDIRECT_PORT": str(http_port),
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", https_port), timeout=1):
                    pass
                with socket.create_connection(("127.0.0.1", http_port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
                time.sleep(0.1)
        yield https_port, http_port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def client_context(ca, **versions) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    for name, value in versions.items():
        setattr(context, name, value)
    return context


def test_gunicorn_serves_tls_12_or_newer_with_the_certificate_and_hsts(server, ca):
    https_port, _ = server
    connection = http.client.HTTPSConnection(
        "127.0.0.1", https_port, context=client_context(ca), timeout=10
    )
    connection.connect()
    tls = connection.sock
    assert tls.version() in ("TLSv1.2", "TLSv1.3")
    certificate = tls.getpeercert()
    assert ("IP Address", "127.0.0.1") in certificate["subjectAltName"]
    connection.request("GET", "/staff/login")
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    hsts = response.getheader("Strict-Transport-Security")
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    connection.close()


def test_a_tls_11_client_is_refused(server, ca):
    https_port, _ = server
    context = client_context(ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: the point
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
    ):
        context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_plain_http_is_redirected_to_https(server):
    https_port, http_port = server
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    connection.request("GET", "/staff/login?next=/staff/")
    response = connection.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == (
        f"https://127.0.0.1:{https_port}/staff/login?next=/staff/"
    )
    connection.close()
    # The Host header does not choose where the redirect goes.
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    connection.request("GET", "/staff/", headers={"Host": "evil.example"})
    response = connection.getresponse()
    assert response.getheader("Location") == f"https://127.0.0.1:{https_port}/staff/"
    connection.close()
