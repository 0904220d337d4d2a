"""Shared fixtures: an app on a migrated file database, a client, a moved clock."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from portal import create_app
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.extensions import db as portal_db
from portal.migrate import upgrade
from tests.factories import enable_policy, enable_terms, make_business, make_provider, make_service

#: A Monday morning in Berlin (07:00 local); the clock of most tests.
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)

CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """One database migrated to head; each test gets its own copy."""
    path = tmp_path_factory.mktemp("template") / "portal.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def app_env(tmp_path, migrated_template, monkeypatch):
    """The PORTAL_* environment of a test app, with its own database file."""
    db_path = tmp_path / "portal.db"
    shutil.copy(migrated_template, db_path)
    env = {
        "PORTAL_ENV": "testing",
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        "PORTAL_SECRET_KEY": "test-secret-key-not-for-production",
        "PORTAL_DATABASE_URL": f"sqlite:///{db_path}",
        "PORTAL_BASE_URL": "http://portal.test",
        "PORTAL_BOOKING_RATE_LIMIT": "1000 per minute",
        "PORTAL_SIGNIN_RATE_LIMIT": "1000 per minute",
        "PORTAL_SIGNIN_ACCOUNT_RATE_LIMIT": "1000 per minute",
    }
    for name in [n for n in list(__import__("os").environ) if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def app(app_env):
    app = create_app()
    yield app
    portal_db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    """A session for arranging and checking data, outside any request.

    Its transactions are deferred, so it never holds the write lock while a
    request runs. Call ``session.rollback()`` before reading what a request
    wrote: a read transaction keeps seeing the snapshot it started with.
    """
    session = portal_db.reader()
    yield session
    session.close()


@pytest.fixture
def clock():
    """Freeze time at NOW; tests move it with ``clock.move_to(...)``."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@dataclass
class Salon:
    business: Business
    service: Service
    provider: Provider


@pytest.fixture
def salon(session, clock) -> Salon:
    """A Berlin business with terms and a 24-hour policy, one service, one provider."""
    business = make_business(session)
    service = make_service(session, business)
    provider = make_provider(session, business, [service])
    enable_terms(session, business)
    enable_policy(session, business)
    session.commit()
    return Salon(business, service, provider)


def csrf_token(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def outbox(app) -> list[Path]:
    folder = Path(app.config["OUTBOX_PATH"])
    return sorted(folder.glob("*.eml")) if folder.exists() else []


OWNER_EMAIL = "owner@salon.example"
OWNER_PASSWORD = "plum orchard lantern 42"


@pytest.fixture
def owner(session, salon):
    """The salon's owner, with a password that meets the default rules."""
    from portal.accounts.service import create_staff_user

    user = create_staff_user(
        session,
        salon.business,
        email=OWNER_EMAIL,
        password=OWNER_PASSWORD,
        role="owner",
        name="Olivia Owner",
    )
    session.commit()
    return user


def sign_in(client, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD):
    """Post the staff sign-in form; return the response."""
    page = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": password},
    )
