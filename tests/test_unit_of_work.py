"""One transaction per request, committed in one place (``portal.db.Database``).

A probe blueprint stands in for a view: it writes a client row and then
returns, raises, records or queues an e-mail in the outbox, and the tests look
at what the database holds afterwards from a session of their own.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Blueprint, abort
from sqlalchemy import event, func, select

from portal.clients.models import Client
from portal.db import writes
from portal.extensions import db as portal_db
from portal.mail.models import OutboxMessage
from portal.mail.outbox import enqueue_written

PORTAL = Path(__file__).resolve().parent.parent / "portal"


@pytest.fixture
def probe(app, salon):
    """Views that each add one client called ``name`` and then end in their own way."""
    blueprint = Blueprint("probe", __name__, url_prefix="/probe")
    business_id = salon.business.id

    def add(name: str) -> None:
        portal_db.session.add(Client(business_id=business_id, name=name, email=f"{name}@x.test"))
        portal_db.session.flush()

    @blueprint.post("/returns/<name>")
    @writes
    def returns(name):
        add(name)
        return "ok"

    @blueprint.post("/refuses/<name>")
    @writes
    def refuses(name):
        add(name)
        return "refused, but what was written stands", 409

    @blueprint.post("/raises/<name>")
    @writes
    def raises(name):
        add(name)
        abort(409, description="The probe refused.")

    @blueprint.get("/records/<name>")
    def records(name):
        portal_db.session.scalar(select(func.count()).select_from(Client))
        portal_db.record(lambda session: add_with(session, name))
        return "read"

    @blueprint.get("/records-then-raises/<name>")
    def records_then_raises(name):
        portal_db.record(lambda session: add_with(session, name))
        abort(404)

    def queue_mail(name: str) -> None:
        message = EmailMessage()
        message["To"] = f"{name}@x.test"
        message["Subject"] = f"Hello {name}"
        message.set_content("Hello")
        enqueue_written(portal_db.session, message, business_id=business_id)

    @blueprint.post("/mails/<name>")
    @writes
    def mails(name):
        add(name)
        queue_mail(name)
        return "ok"

    @blueprint.post("/mails-then-raises/<name>")
    @writes
    def mails_then_raises(name):
        add(name)
        queue_mail(name)
        abort(409)

    def add_with(session, name):
        session.add(Client(business_id=business_id, name=name, email=f"{name}@x.test"))

    app.register_blueprint(blueprint)


def stored(session, name: str) -> int:
    session.rollback()
    return session.scalar(select(func.count()).where(Client.name == name))


def csrf_free(app):
    app.config["WTF_CSRF_ENABLED"] = False


def test_a_view_that_returns_commits_its_writes(app, client, session, probe):
    csrf_free(app)
    assert client.post("/probe/returns/anna").status_code == 200
    assert stored(session, "anna") == 1


def test_a_refusal_page_the_view_returns_commits_what_the_domain_recorded(
    app, client, session, probe
):
    csrf_free(app)
    assert client.post("/probe/refuses/bert").status_code == 409
    assert stored(session, "bert") == 1


def test_a_view_that_raises_leaves_nothing_and_gets_its_error_page(app, client, session, probe):
    csrf_free(app)
    response = client.post("/probe/raises/carl")
    assert response.status_code == 409
    assert "The probe refused." in response.text
    assert stored(session, "carl") == 0


def test_a_read_that_records_writes_after_the_view_in_a_short_write_transaction(
    app, client, session, probe, database_backend
):
    begins: list[str] = []

    @event.listens_for(portal_db.engine, "before_cursor_execute")
    def watch(_conn, _cursor, statement, *_args):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    assert client.get("/probe/records/dora").status_code == 200
    assert stored(session, "dora") == 1
    if database_backend == "sqlite":
        # The reads ran without the write lock; only the record took it.
        assert begins[:2] == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]


def test_what_a_failing_request_recorded_stands(app, client, session, probe):
    assert client.get("/probe/records-then-raises/emil").status_code == 404
    assert stored(session, "emil") == 1


def queued_to(session, name: str) -> int:
    session.rollback()
    return session.scalar(select(func.count()).where(OutboxMessage.recipient == f"{name}@x.test"))


def test_a_message_queued_by_a_view_commits_with_its_change(app, client, session, probe):
    csrf_free(app)
    assert client.post("/probe/mails/fritz").status_code == 200
    assert (stored(session, "fritz"), queued_to(session, "fritz")) == (1, 1)


def test_a_message_queued_by_a_view_that_raises_goes_with_its_change(app, client, session, probe):
    csrf_free(app)
    assert client.post("/probe/mails-then-raises/gina").status_code == 409
    assert (stored(session, "gina"), queued_to(session, "gina")) == (0, 0)


def test_every_view_that_accepts_a_post_is_declared_as_writing(app):
    undeclared = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        and not getattr(app.view_functions[rule.endpoint], "portal_writes", False)
    ]
    assert undeclared == []


VIEW_MODULES = sorted(
    {
        *PORTAL.rglob("views.py"),
        *PORTAL.rglob("*_views.py"),
        *PORTAL.rglob("admin*.py"),
        *PORTAL.rglob("guards.py"),
        PORTAL / "web" / "tenancy.py",
        PORTAL / "web" / "security.py",
        PORTAL / "web" / "i18n.py",
        PORTAL / "embedding" / "framing.py",
    }
)


@pytest.mark.parametrize("path", VIEW_MODULES, ids=lambda p: str(p.relative_to(PORTAL)))
def test_views_and_request_hooks_never_commit_or_roll_back(path):
    source = path.read_text()
    assert re.findall(r"\b(?:commit|rollback)\(|\.writer\(\)", source) == []
