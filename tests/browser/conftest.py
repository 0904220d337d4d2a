"""Browser tests: Debian's chromium, driven by Playwright, against Portal under gunicorn.

One browser for all of them, one server (and database) per test module, a
fresh browser context (no cookies) per test. The server's clock starts at the
tests' ``NOW`` (Monday 2 March 2026, 07:00 in Berlin) and runs on in real
time; ``portal.move_clock_to()`` moves it between two clicks.
"""

from __future__ import annotations

import time
import urllib.request

import pytest
import time_machine
from playwright.sync_api import sync_playwright
from sqlalchemy.orm import Session

from portal.accounts.models import SecuritySettings
from portal.accounts.service import create_staff_user
from portal.audit import keys as audit_keys
from portal.db import make_engine
from tests.browser.support import VIEWPORTS, PortalServer, Screenshots, Site
from tests.conftest import (
    NOW,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    migrated_database,
)
from tests.factories import enable_policy, enable_terms, make_business, make_provider, make_service
from tests.gunicorn_server import Gunicorn, Worker
from tests.services import ServiceError, ensure_chromium_installed

STAFF_EMAIL = "sam@salon.example"
STAFF_PASSWORD = "violet harbour ledger 17"
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 (the test server's)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Playwright's own waits; generous for a loaded CI machine, far below pytest's patience.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="package")
def browser():
    """Debian's chromium (installed with apt when missing), headless, for all browser tests.

    Package scope: Playwright and chromium stop before the rest of the suite runs.
    """
    try:
        executable = ensure_chromium_installed()
    except ServiceError as error:
        pytest.exit(f"Cannot install chromium for the browser tests: {error}", returncode=3)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory, migrated_template, database_backend, request):
    """A migrated database for one test module (its server keeps it for all its tests)."""
    directory = tmp_path_factory.mktemp("browser-db")
    with migrated_database(directory, migrated_template, database_backend, request) as url:
        yield url


def arrange_salon(session) -> dict[str, int]:
    """The conftest salon (terms, 24-hour policy, Haircut with Alex); owner and staff; accounts on.

    Neither the owner nor the staff member has 2FA yet.
    """
    business = make_business(session)
    service = make_service(session, business)
    provider = make_provider(session, business, [service])
    enable_terms(session, business)
    enable_policy(session, business)
    settings = SecuritySettings.defaults(business.id)
    settings.client_accounts_enabled = True
    session.add(settings)
    owner = create_staff_user(
        session,
        business,
        email=OWNER_EMAIL,
        password=OWNER_PASSWORD,
        role="owner",
        name="Olivia Owner",
    )
    staff = create_staff_user(
        session, business, email=STAFF_EMAIL, password=STAFF_PASSWORD, name="Sam Staff"
    )
    session.commit()
    return {
        "business": business.id,
        "service": service.id,
        "provider": provider.id,
        "owner": owner.id,
        "staff": staff.id,
    }


def wait_until_healthy(server: Gunicorn, timeout: float = 60.0) -> None:
    """Wait for ``/healthz`` to answer: gunicorn listens before its worker has loaded the app."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:  # not listening yet, or not healthy yet (HTTPError is an OSError)
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise ServiceError(f"Portal did not answer /healthz:\n{server.stop()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def portal(tmp_path_factory, module_database_url, request):
    """Portal under gunicorn on the module's database, with the salon arranged at ``NOW``.

    A test module may set ``SERVER_HOST``: the host name in the server's and the
    browser's base URL, e.g. ``"localhost"`` (WebAuthn needs a domain, not an IP
    address).
    """
    host = getattr(request.module, "SERVER_HOST", "127.0.0.1")
    root = tmp_path_factory.mktemp("browser-server")
    engine = make_engine(module_database_url)
    # What the tests write here directly is sealed as the server would seal it.
    audit_keys.bind(
        engine, audit_keys.setup_from_config({"SECRET_KEY": SECRET_KEY}, root / "instance")
    )
    with time_machine.travel(NOW, tick=False), Session(engine, expire_on_commit=False) as session:
        ids = arrange_salon(session)
    env = {
        "PORTAL_ENV": "testing",
        "PORTAL_INSTANCE_PATH": str(root / "instance"),
        "PORTAL_SECRET_KEY": SECRET_KEY,
        "PORTAL_DATABASE_URL": module_database_url,
        "PORTAL_OUTBOX_PATH": str(root / "outbox"),
        "PORTAL_BOOKING_RATE_LIMIT": "1000 per minute",
        "PORTAL_SIGNIN_RATE_LIMIT": "1000 per minute",
        "PORTAL_SIGNIN_ACCOUNT_RATE_LIMIT": "1000 per minute",
        "PORTAL_TEST_NOW": NOW.isoformat(),
        "PORTAL_TEST_CLOCK_FILE": str(root / "clock-offset"),
    }
    server = Gunicorn(env, threads=4, app="tests.browser.clock_wsgi:app")
    # Only this server's settings: none from the shell running the tests (like app_env).
    server.env = {
        name: value
        for name, value in server.env.items()
        if not name.startswith("PORTAL_") or name in env or name == "PORTAL_TEST_NOW_REAL"
    }
    url = server.url.replace("127.0.0.1", host, 1)  # gunicorn listens on 127.0.0.1
    server.env["PORTAL_BASE_URL"] = url  # links in e-mails lead back here
    worker = Worker(server.env)
    try:
        server.start()
        wait_until_healthy(server)
        worker.start()  # sends the e-mails the server queues, as in production
    except ServiceError as error:
        engine.dispose()
        pytest.fail(f"Cannot start Portal under gunicorn: {error}")
    yield PortalServer(
        url=url,
        engine=engine,
        outbox=root / "outbox",
        clock_file=root / "clock-offset",
        now_real=float(server.env["PORTAL_TEST_NOW_REAL"]),
        ids=ids,
    )
    log = server.stop()
    worker_log = worker.stop()
    engine.dispose()
    assert "Traceback" not in log, log
    assert "Traceback" not in worker_log, worker_log


@pytest.fixture
def viewport() -> str:
    """The viewport of a test's page; tests parametrize it to run at both."""
    return "desktop"


@pytest.fixture
def context(browser, portal, viewport):
    """A fresh browser context (no cookies, no storage) at ``viewport``, based on the portal."""
    context = browser.new_context(base_url=portal.url, locale="en-GB", **VIEWPORTS[viewport])
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()
    # A test that moved the server's clock does not move it for the next one.
    portal.reset_clock()


@pytest.fixture
def console(context) -> list[str]:
    """Console messages and uncaught errors of every page of the test's context."""
    messages: list[str] = []
    context.on(
        "console",
        lambda message: messages.append(
            f"{message.type}: {message.text} ({message.location.get('url', '')})"
        ),
    )
    context.on("weberror", lambda error: messages.append(f"pageerror: {error.error}"))
    return messages


@pytest.fixture
def page(context, console):
    return context.new_page()


@pytest.fixture
def shot(page, viewport) -> Screenshots:
    """``shot("step")`` saves a full-page screenshot as test-artifacts/<viewport>/<nn>-step.png."""
    return Screenshots(page, viewport)


@pytest.fixture
def site():
    """Start another website (127.0.0.1, another port); set its ``html`` to what it serves."""
    sites: list[Site] = []

    def start() -> Site:
        sites.append(Site())
        return sites[-1]

    yield start
    for each in sites:
        each.stop()
