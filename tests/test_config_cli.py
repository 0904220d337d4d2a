"""Configuration from PORTAL_* variables, the ``portal`` command and ``/healthz``."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select

from portal import create_app
from portal.accounts.models import StaffUser
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.cli import main
from portal.config import ConfigError, load_config
from portal.extensions import db as portal_db
from portal.policies.service import current_policy, current_terms

DEMO_PASSWORD = "Correct-Horse-Battery-Staple-42"


# Configuration.


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    environ = {"PORTAL_ENV": "production", "PORTAL_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="PORTAL_SECRET_KEY must be set in production"):
        load_config(environ)
    assert not (tmp_path / "secret_key").exists()


def test_production_app_refuses_to_start_without_a_secret_key(app_env, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.delenv("PORTAL_SECRET_KEY")
    with pytest.raises(ConfigError):
        create_app()


def test_production_with_a_secret_key_forces_https_by_default(tmp_path):
    config = load_config(
        {
            "PORTAL_ENV": "production",
            "PORTAL_SECRET_KEY": "s3cret-from-the-operator",
            "PORTAL_INSTANCE_PATH": str(tmp_path),
        }
    )
    assert config["SECRET_KEY"] == "s3cret-from-the-operator"
    assert config["FORCE_HTTPS"] is True
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["TESTING"] is False
    assert not (tmp_path / "secret_key").exists()


def test_unknown_environment_name_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="PORTAL_ENV must be"):
        load_config({"PORTAL_ENV": "staging", "PORTAL_INSTANCE_PATH": str(tmp_path)})


def test_development_creates_a_secret_key_once_and_keeps_it(tmp_path):
    instance = tmp_path / "instance"
    environ = {"PORTAL_INSTANCE_PATH": str(instance)}
    first = load_config(environ)
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first["SECRET_KEY"]) >= 48
    assert first["SECRET_KEY"] == key_file.read_text().strip()
    second = load_config(environ)
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert first["PORTAL_ENV"] == "development"
    assert first["FORCE_HTTPS"] is False


def test_development_secret_keys_differ_between_installations(tmp_path):
    one = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path / "one")})
    two = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path / "two")})
    assert one["SECRET_KEY"] != two["SECRET_KEY"]


def test_portal_variables_are_read(tmp_path):
    config = load_config(
        {
            "PORTAL_INSTANCE_PATH": str(tmp_path),
            "PORTAL_SECRET_KEY": "k",
            "PORTAL_DATABASE_URL": "postgresql://portal@db.internal/portal",
            "PORTAL_FORCE_HTTPS": "on",
            "PORTAL_BASE_URL": "https://book.example.com/",
            "PORTAL_RATELIMIT_STORAGE_URI": "redis://cache.internal:6379/0",
            "PORTAL_BOOKING_RATE_LIMIT": "5 per minute",
            "PORTAL_SMTP_URL": "smtp://mail.internal:25",
        }
    )
    assert config["DATABASE_URL"] == "postgresql://portal@db.internal/portal"
    assert config["FORCE_HTTPS"] is True
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["BASE_URL"] == "https://book.example.com"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/0"
    assert config["BOOKING_RATE_LIMIT"] == "5 per minute"
    assert config["SMTP_URL"] == "smtp://mail.internal:25"


@pytest.mark.parametrize(
    ("value", "expected"), [("on", True), ("1", True), ("TRUE", True), ("off", False), ("0", False)]
)
def test_force_https_flag_is_read(tmp_path, value, expected):
    environ = {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_FORCE_HTTPS": value}
    assert load_config(environ)["FORCE_HTTPS"] is expected


def test_defaults_keep_data_in_the_instance_folder(tmp_path):
    config = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'portal.db'}"
    assert config["OUTBOX_PATH"] == str(tmp_path / "outbox")
    assert config["TASKS_PATH"] == str(tmp_path / "tasks.db")
    assert config["REDIS_URL"] == ""
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["MAIL_GIVE_UP_HOURS"] == 24
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_one_redis_serves_the_task_queue_and_the_rate_limits(tmp_path):
    config = load_config(
        {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_REDIS_URL": "redis://127.0.0.1:6379/1"}
    )
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/1"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/1"


@pytest.mark.parametrize("hours", ["0", "-3", "soon", "400"])
def test_a_give_up_time_out_of_range_is_refused(tmp_path, hours):
    with pytest.raises(ConfigError, match="PORTAL_MAIL_GIVE_UP_HOURS"):
        load_config({"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_MAIL_GIVE_UP_HOURS": hours})


def test_variables_without_the_portal_prefix_are_ignored(tmp_path):
    config = load_config(
        {
            "PORTAL_INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "not-ours",
            "DATABASE_URL": "postgresql://elsewhere/db",
        }
    )
    assert config["SECRET_KEY"] != "not-ours"
    assert config["DATABASE_URL"].startswith("sqlite:///")


# The ``portal`` command.


@pytest.fixture
def cli(app_env, monkeypatch):
    """Run ``portal ...`` against the test environment; returns a function."""
    # FlaskGroup marks the process as run from the CLI; keep that out of other tests.
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(main, list(args))
        if portal_db.engine is not None:
            portal_db.engine.dispose()
        return result

    return run


@pytest.fixture
def empty_db(empty_database_url, monkeypatch) -> str:
    monkeypatch.setenv("PORTAL_DATABASE_URL", empty_database_url)
    return empty_database_url


@pytest.fixture
def demo_db(cli, empty_db):
    """A freshly migrated database; returns a function opening a session on it."""
    assert cli("db", "upgrade").exit_code == 0
    engines = []

    def open_session():
        from sqlalchemy.orm import Session

        engine = create_engine(empty_db)
        engines.append(engine)
        return Session(engine)

    yield open_session
    for engine in engines:
        engine.dispose()


def test_db_upgrade_creates_the_tables_in_an_empty_file(cli, empty_db, tmp_path):
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "Database is at revision head." in result.output
    engine = create_engine(empty_db)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "alembic_version",
        "businesses",
        "services",
        "providers",
        "working_hours",
        "bookings",
        "clients",
        "booking_consents",
        "terms_versions",
        "cancellation_policy_versions",
        "staff_users",
    } <= tables


def test_db_upgrade_twice_is_harmless(cli, empty_db):
    assert cli("db", "upgrade").exit_code == 0
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output


def test_demo_is_created_once_and_then_kept(cli, demo_db, monkeypatch):
    monkeypatch.setenv("PORTAL_DEMO_PASSWORD", DEMO_PASSWORD)
    first = cli("demo")
    assert first.exit_code == 0, first.output
    assert "Demo business created: http://portal.test/b/demo/" in first.output
    assert f"owner@demo.example  password: {DEMO_PASSWORD}" in first.output

    with demo_db() as session:
        business = session.scalars(select(Business).where(Business.slug == "demo")).one()
        business.name = "Renamed by the owner"
        session.commit()

    second = cli("demo")
    assert second.exit_code == 0, second.output
    assert "Demo business already present (data kept)" in second.output
    assert DEMO_PASSWORD not in second.output
    with demo_db() as session:
        assert session.scalars(select(Business)).one().name == "Renamed by the owner"
        assert len(session.scalars(select(Service)).all()) == 3


def test_demo_business_is_ready_to_book(cli, demo_db, monkeypatch):
    monkeypatch.setenv("PORTAL_DEMO_PASSWORD", DEMO_PASSWORD)
    assert cli("demo").exit_code == 0
    with demo_db() as session:
        business = session.scalars(select(Business).where(Business.slug == "demo")).one()
        assert business.timezone == "Europe/Berlin"
        services = session.scalars(select(Service).where(Service.business_id == business.id))
        durations = [service.duration_minutes for service in services]
        assert len(durations) == 3
        assert len(set(durations)) == 3
        providers = session.scalars(
            select(Provider).where(Provider.business_id == business.id)
        ).all()
        assert len(providers) == 2
        for provider in providers:
            assert provider.working_hours, provider.name
            assert len({hours.weekday for hours in provider.working_hours}) >= 4
            assert len(provider.days_off) >= 1, provider.name
            assert provider.services, provider.name
        assert business.terms_enabled
        assert current_terms(session, business) is not None
        assert business.cancellation_policy_enabled
        policy = current_policy(session, business)
        assert policy.cancel_mode == "until"
        assert timedelta(minutes=policy.cancel_notice_minutes) == timedelta(hours=24)
        owner = session.scalars(
            select(StaffUser).where(StaffUser.email == "owner@demo.example")
        ).one()
        assert owner.business_id == business.id
        assert owner.role == "owner"
        assert PasswordHasher().verify(owner.password_hash, DEMO_PASSWORD)


def test_demo_without_a_set_password_prints_a_generated_one(cli, demo_db, monkeypatch):
    monkeypatch.delenv("PORTAL_DEMO_PASSWORD", raising=False)
    result = cli("demo")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "password:" in line)
    password = line.split("password:", 1)[1].strip()
    assert len(password) >= 12
    with demo_db() as session:
        owner = session.scalars(select(StaffUser)).one()
        assert PasswordHasher().verify(owner.password_hash, password)


def test_create_business_creates_one(cli):
    result = cli(
        "create-business", "--slug", "my-salon", "--name", "My Salon", "--timezone", "Europe/Paris"
    )
    assert result.exit_code == 0, result.output
    assert "Created My Salon: http://portal.test/b/my-salon/" in result.output
    app = create_app()
    try:
        with app.app_context():
            business = portal_db.session.scalars(
                select(Business).where(Business.slug == "my-salon")
            ).one()
            assert business.name == "My Salon"
            assert business.timezone == "Europe/Paris"
    finally:
        portal_db.engine.dispose()


def test_create_business_refuses_a_duplicate_slug(cli):
    args = ["create-business", "--slug", "twin", "--name", "Twin", "--timezone", "UTC"]
    assert cli(*args).exit_code == 0
    result = cli(*args)
    assert result.exit_code != 0
    assert "A business with the slug 'twin' already exists." in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("slug", ["Bad Slug", "UPPER", "-dash", "dash-", "a" * 65, "ok\n", ""])
def test_create_business_refuses_a_bad_slug(cli, slug):
    result = cli("create-business", "--slug", slug, "--name", "Bad", "--timezone", "UTC")
    assert result.exit_code != 0
    assert "The slug may hold lowercase letters, digits and hyphens" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "Europe/../etc/passwd", "", "CEST"])
def test_create_business_refuses_a_bad_timezone(cli, timezone):
    result = cli("create-business", "--slug", "tz", "--name", "Tz", "--timezone", timezone)
    assert result.exit_code != 0
    assert "use an IANA name like Europe/Berlin" in result.output
    assert "Traceback" not in result.output


def test_create_business_refuses_an_empty_name(cli):
    result = cli("create-business", "--slug", "blank", "--name", "  ", "--timezone", "UTC")
    assert result.exit_code != 0
    assert "The business needs a name." in result.output


def test_create_business_says_which_option_is_missing(cli):
    result = cli("create-business", "--slug", "half")
    assert result.exit_code == 2
    assert "Missing option '--name'" in result.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("db", "upgrade", "--help"), "Apply the schema migrations"),
        (("demo", "--help"), "Load the demo business"),
        (("create-business", "--help"), "Create a new, empty business."),
        (("worker", "--help"), "Deliver the outbox and run the periodic jobs"),
        (("outbox", "deliver", "--help"), "Send every message that is due now"),
        (("--help",), "db"),
    ],
)
def test_commands_explain_themselves(cli, args, text):
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert text in result.output


# /healthz


def test_health_check_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.json == {"status": "ok", "database": "ok"}


def test_health_check_reports_an_unreachable_database(
    app_env, monkeypatch, tmp_path, database_backend
):
    if database_backend == "postgresql":
        from tests.services import free_port

        url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/portal"
    else:
        url = f"sqlite:///{tmp_path / 'no-such-directory' / 'portal.db'}"
    monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    app = create_app()
    try:
        response = app.test_client().get("/healthz")
    finally:
        portal_db.engine.dispose()
    assert response.status_code == 503
    assert response.is_json
    assert response.json == {"status": "error", "database": "unreachable"}
