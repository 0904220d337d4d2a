"""Shared fixtures: an app on a migrated file database, a client, a moved clock."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine

from portal import create_app
from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.extensions import db as portal_db
from portal.mail.outbox import deliver_due
from portal.migrate import upgrade
from tests import factories
from tests.factories import enable_policy, enable_terms, make_business, make_provider, make_service
from tests.services import PostgresServer, RedisServer, ServiceError

#: The database the whole run uses: ``PORTAL_TEST_DATABASE=sqlite|postgresql``.
BACKEND = os.environ.get("PORTAL_TEST_DATABASE", "sqlite").strip().lower() or "sqlite"
if BACKEND not in {"sqlite", "postgresql"}:
    raise pytest.UsageError(f"PORTAL_TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}")
PG_TEMPLATE = "portal_template"

#: A Monday morning in Berlin (07:00 local); the clock of most tests.
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
#: Tuesday 3 March 2026, 10:00 in Berlin: a slot the salon offers, the day after NOW.
SLOT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def _share_url_builders() -> None:
    """Compile each URL rule's builder once per run instead of once per test app.

    Every test builds its own app, and werkzeug compiles two builder functions
    per rule from an AST for each (two thirds of ``create_app``'s time). A
    builder depends only on the rule's text, its parsed parts and its
    defaults, which are the same in every app, so the same compiled function
    serves them all; rules with defaults that cannot be a key compile as usual.
    """
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    builders: dict[tuple, object] = {}

    def shared_builder(self, append_unknown: bool = True):
        try:
            key = (
                self.rule,
                tuple(self._trace),
                tuple(sorted((self.defaults or {}).items())),
                self.map.host_matching,
                append_unknown,
            )
            hash(key)
        except TypeError:
            return compile_builder(self, append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = shared_builder


_share_url_builders()


def path_of(response) -> str:
    """Where a redirect points, without its query (``?done=booked`` on a manage page)."""
    return urlsplit(response.headers["Location"]).path


CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


#: Fixtures through which a test reaches the run's database: a test that uses none of them
#: (directly or through other fixtures) behaves the same on either backend.
BACKEND_FIXTURES = frozenset(
    {"database_backend", "migrated_template", "database_url", "empty_database_url"}
)
BROWSER_TESTS = Path(__file__).parent / "browser"


def runs_once(item: pytest.Item) -> bool:
    """Whether ``item`` runs in the SQLite pass only.

    The PostgreSQL pass is for what the database decides. A test that never
    touches a database gains nothing from it, nor do the browser walks, which
    check what a person sees (the house rules let them run once).
    """
    if BROWSER_TESTS in Path(item.path).parents:
        return True
    return not BACKEND_FIXTURES & set(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "postgresql":
        return
    once = [item for item in items if runs_once(item)]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if not runs_once(item)]


def pytest_report_header(config: pytest.Config) -> str:
    if BACKEND == "postgresql":
        return (
            "database: PostgreSQL; tests that use no database and the browser walks "
            "ran in the SQLite pass and are deselected here"
        )
    return "database: SQLite"


@pytest.fixture(scope="session")
def database_backend() -> str:
    """``sqlite`` or ``postgresql``: what every database of this run is."""
    return BACKEND


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL cluster for the run; the run stops if it cannot start."""
    try:
        server = PostgresServer().start()
    except ServiceError as error:
        pytest.exit(f"Cannot start the test PostgreSQL server: {error}", returncode=3)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server for the run (installed with apt when missing)."""
    try:
        server = RedisServer().start()
    except ServiceError as error:
        pytest.exit(f"Cannot start the test Redis server: {error}", returncode=3)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_admin(postgres_server):
    """An autocommit engine on the cluster's maintenance database."""
    from sqlalchemy import create_engine

    engine = create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


_database_numbers = itertools.count(1)


def _new_postgres_database(admin, template: str) -> str:
    from sqlalchemy import text

    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    with admin.connect() as connection:
        # FILE_COPY copies the template's files (the cluster runs without fsync):
        # about half the time of the default WAL_LOG for a database this small.
        connection.execute(
            text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        )
    return name


def _drop_postgres_database(admin, name: str) -> None:
    from sqlalchemy import text

    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class _DatabasesAhead:
    """Copies of the migrated template made one test ahead, and dropped, in a thread.

    Creating and dropping a database per test is PostgreSQL's work, not
    Python's: done beside the running test it costs the run almost nothing.
    """

    def __init__(self, admin, template: str) -> None:
        self.admin = admin
        self.template = template
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-databases")
        self.ahead = self.executor.submit(_new_postgres_database, admin, template)

    def take(self) -> str:
        name = self.ahead.result()
        self.ahead = self.executor.submit(_new_postgres_database, self.admin, self.template)
        return name

    def give_back(self, name: str) -> None:
        self.executor.submit(_drop_postgres_database, self.admin, name)

    def close(self) -> None:
        self.give_back(self.ahead.result())
        self.executor.shutdown(wait=True)


@pytest.fixture(scope="session")
def postgres_databases(postgres_admin, migrated_template):
    databases = _DatabasesAhead(postgres_admin, migrated_template)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory, database_backend, request):
    """One database migrated to head; each test gets its own copy.

    SQLite: a file that is copied. PostgreSQL: a database that serves as the
    ``TEMPLATE`` of a new database per test.
    """
    if database_backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "portal.db"
        upgrade(f"sqlite:///{path}")
        return path
    server = request.getfixturevalue("postgres_server")
    admin = request.getfixturevalue("postgres_admin")
    from sqlalchemy import text

    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{PG_TEMPLATE}" TEMPLATE template0'))
    upgrade(server.url(PG_TEMPLATE))
    return PG_TEMPLATE


@contextmanager
def migrated_database(directory: Path, migrated_template, database_backend, request):
    """A copy of the migrated template (a file in ``directory``, or a new PostgreSQL database)."""
    if database_backend == "sqlite":
        db_path = directory / "portal.db"
        shutil.copy(migrated_template, db_path)
        yield f"sqlite:///{db_path}"
        return
    databases = request.getfixturevalue("postgres_databases")
    name = databases.take()
    try:
        yield request.getfixturevalue("postgres_server").url(name)
    finally:
        databases.give_back(name)


@pytest.fixture
def database_url(tmp_path, migrated_template, database_backend, request):
    """The URL of a migrated database of this test's own."""
    with migrated_database(tmp_path, migrated_template, database_backend, request) as url:
        yield url


@pytest.fixture
def empty_database_url(tmp_path, database_backend, request):
    """The URL of an empty database of this test's own (for migration tests)."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    name = _new_postgres_database(admin, "template0")
    yield request.getfixturevalue("postgres_server").url(name)
    _drop_postgres_database(admin, name)


@pytest.fixture
def app_env(tmp_path, database_url, monkeypatch):
    """The PORTAL_* environment of a test app, with its own database."""
    env = {
        "PORTAL_ENV": "testing",
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        "PORTAL_SECRET_KEY": "test-secret-key-not-for-production",
        "PORTAL_DATABASE_URL": database_url,
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
    portal_db.dispose_all()


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


@pytest.fixture
def rival(session, salon) -> Salon:
    """Another business beside the salon: Rival Studio, a 60-minute massage, Robin."""
    business = make_business(session, slug="rival", name="Rival Studio")
    service = make_service(session, business, name="Deep Tissue Massage", duration_minutes=60)
    provider = make_provider(session, business, [service], name="Robin")
    session.commit()
    return Salon(business, service, provider)


@pytest.fixture
def make_booking(session, request):
    """Store booking rows as they are, past the booking rules: ``make_booking(**overrides)``.

    By default a confirmed booking at the salon (its service, its provider) at SLOT, for
    the client Mia Example, made at NOW. Override ``start``, ``status``, ``client`` or
    ``name`` (the client called so), ``provider`` or any other column; pass ``business``
    with ``service`` and ``provider`` for a business other than the salon (no salon is
    made then). Each booking is committed, so requests see it.
    """

    def make(**overrides) -> Booking:
        if "business" not in overrides:
            salon = request.getfixturevalue("salon")
            defaults = dict(business=salon.business, service=salon.service, provider=salon.provider)
            overrides = {**defaults, **overrides}
        overrides = {"start": SLOT, "created_at": NOW, **overrides}
        booking = factories.make_booking(session, **overrides)
        session.commit()
        return booking

    return make


def csrf_token(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def outbox(app) -> list[Path]:
    """The e-mails sent so far, oldest first: the worker's step runs first, as a worker would."""
    with app.app_context():
        deliver_due(app)
    folder = Path(app.config["OUTBOX_PATH"])
    return sorted(folder.glob("*.eml")) if folder.exists() else []


# Who signs in. ``owner`` and ``staff_member`` are StaffUser rows; ``owner_client`` and
# ``staff_client`` are the test client signed in as them.

OWNER_EMAIL = "owner@salon.example"
#: 23 characters.
OWNER_PASSWORD = "plum orchard lantern 42"
STAFF_EMAIL = "sam@salon.example"
#: 26 characters: longer than the owner's, as the password-rule tests need.
STAFF_PASSWORD = "velvet harbour cinnamon 77"


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


@pytest.fixture
def staff_member(session, salon):
    """Sam Staff, a staff member of the salon who is not the owner."""
    from portal.accounts.service import create_staff_user

    user = create_staff_user(
        session,
        salon.business,
        email=STAFF_EMAIL,
        password=STAFF_PASSWORD,
        role="staff",
        name="Sam Staff",
    )
    session.commit()
    return user


@pytest.fixture
def owner_client(client, owner):
    """The test client, signed in as the salon's owner."""
    assert sign_in(client).status_code == 302
    return client


@pytest.fixture
def staff_client(client, staff_member):
    """The test client, signed in as a staff member who is not the owner."""
    assert sign_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    return client


def sign_in(client, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD):
    """Post the staff sign-in form; return the response."""
    page = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": password},
    )
