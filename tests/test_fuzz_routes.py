"""Every route, fuzzed: no input reaches a 5xx, and an answer of 4xx writes nothing.

Walks each rule of ``app.url_map`` as five visitors (public, a signed-in
client account, the owner, a staff member, platform support inside the
business) with Hypothesis-generated path values, query strings and form
bodies: the form a page really shows (its valid CSRF token and values) with
some fields replaced by hostile text (control characters, huge numbers, odd
Unicode, edge dates, NaN/Infinity) or left out.

Each visitor's own area gets ``max_examples`` examples per rule and method,
the other rules one. ``make test`` runs the small, derandomised ``suite``
profile; ``make fuzz`` runs ``PORTAL_FUZZ_PROFILE=long`` (random, many more).
One app and one database serve the whole module.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
import time_machine
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from portal import create_app
from portal.accounts import totp
from portal.accounts.models import SecuritySettings
from portal.accounts.service import create_staff_user
from portal.catalog.models import DayOff
from portal.extensions import db as portal_db
from portal.giftcards.models import GiftCard
from portal.models import Base
from tests import factories
from tests.conftest import (
    NOW,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    SLOT,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    csrf_token,
    migrated_database,
    outbox,
    sign_in,
)

# -- profiles ----------------------------------------------------------------------------

_QUIET = list(HealthCheck)
#: ``make test``: fixed examples and no shrinking (a failure is reported as found, at
#: once: shrinking one through many requests would cost minutes).
settings.register_profile(
    "suite", max_examples=3, derandomize=True, database=None, deadline=None,
    suppress_health_check=_QUIET, print_blob=False, phases=[Phase.explicit, Phase.generate],
)  # fmt: skip
settings.register_profile(
    "long", max_examples=60, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
PROFILE = os.environ.get("PORTAL_FUZZ_PROFILE", "suite")
OWN_AREA = settings.get_profile(PROFILE)
#: Rules outside a visitor's area (a client on a staff page): one example each.
ELSEWHERE = settings(OWN_AREA, max_examples=1)

#: Endpoints that would end the fuzzing visitor's own session: they take nothing but
#: the CSRF token (their tests are elsewhere), and signing out would end the walk, so a
#: signed-in visitor sends them only with a missing or wrong token (the public one: any).
SESSION_ENDERS = frozenset(
    {"staff_auth.logout", "client_accounts.logout", "support.logout", "support.leave"}
)
#: Tables every request may touch: the server-side session's last-seen time.
BOOKKEEPING = frozenset({"user_sessions"})
#: Audit tables: a refusal may add an event of these kinds (it is logged by design).
AUDIT_TABLES = frozenset({"audit_events", "audit_checkpoints", "audit_write_permits"})
#: Events that are logged whatever the answer: a refusal, and each page support opens
#: inside a business (support's access is recorded by design, even when it finds nothing).
LOGGED_REFUSALS = frozenset(
    {"support.refused", "access.denied", "signin.failed", "support.page_viewed"}
)

AREAS = {
    "public": ("/b/", "/healthz", "/static/", "/staff/login", "/staff/reset", "/staff/invite",
               "/support/login"),
    "client": ("/b/",),
    "owner": ("/staff/",),
    "staff": ("/staff/",),
    "support": ("/support/", "/staff/"),
}  # fmt: skip

# -- hostile values ----------------------------------------------------------------------

HOSTILE = [
    "", " ", "\r\n", "Mia\r\nBcc: x@example.com", "a\nb", "\t", "\x00", "\x7f", "\x85",
    "\u2028", "\u202e", "\ufeff", "e\u0301", "ﬁ", "²", "٣", "𝟘", "🙂", "ǅ",
    "NaN", "nan", "sNaN", "-sNaN", "Infinity", "-Infinity", "inf", "1e999999", "-1e-999999",
    "-1", "0", "-0", "1.5", "1,5", "0.001", "99999999999999999999", str(2**31),
    str(2**31 - 1), str(2**63), str(-(2**63) - 1),
    "0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01", "2026-02-30", "2026-13-01",
    "2026-W10-1", "20260303", "2026-03-03T09:00Z", "2026-03-03T25:00Z",
    "0001-01-01T00:00Z", "9999-12-31T23:59Z", "9999-12-31T23:59:59+14:00", "24:00", "23:60",
    "-00:01", "on", "y", "true", "off", "any", "owner", "staff", "client", "minutes", "hours",
    "days", "en", "de", "Europe/Berlin", "Mars/Olympus", "x" * 300, "a" * 5000, "%", "%00",
    "../", "/etc/passwd", "//evil.example", "<script>alert(1)</script>", "' OR 1=1 --",
    "{{7*7}}", "%(name)s", "a@b", "@", "user@例え.jp", "salon", "rival",
]  # fmt: skip
QUERY_NAMES = [
    "day", "month", "start", "provider", "from", "to", "kind", "user", "first", "last",
    "page", "q", "find", "time", "lang", "done", "next", "embed", "service", "client",
    "booking", "date", "view", "reason", "code", "week",
]  # fmt: skip
#: Text of any code point a form can carry (surrogates cannot be encoded in UTF-8).
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def hostile_value(ids: list[int]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE),
        ANY_TEXT,
        st.integers(-(2**70), 2**70).map(str),
        st.sampled_from([str(i) for i in ids] or ["1"]),
        st.dates(date(1, 1, 1)).map(date.isoformat),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
    )


def path_value(name: str, converter: str, world: World) -> st.SearchStrategy[str]:
    """Real values for the argument (most of the time), else anything hostile."""
    real = world.path_values.get(name) or []
    if converter == "int":
        odd = ["0", "2147483647", "2147483648", "99999999999999999999", "-1", "00001", "٣"]
        other = st.one_of(st.sampled_from(odd), st.integers(0, 2**64).map(str))
    else:
        other = st.one_of(st.sampled_from(HOSTILE), ANY_TEXT.filter(bool))
    if real:
        return st.one_of(st.sampled_from(real), st.sampled_from(real), other)
    return other


# -- the world the walk runs in -----------------------------------------------------------


@dataclass
class Walk:
    rule: str
    endpoint: str
    method: str
    arguments: list[tuple[str, str]]  # (name, converter)

    @property
    def label(self) -> str:
        return f"{self.method} {self.rule}"


@dataclass
class World:
    app: object
    engine: object
    walks: list[Walk]
    path_values: dict[str, list[str]]
    ids: list[int]
    visitors: dict[str, object] = field(default_factory=dict)
    #: Per visitor: a form's action path -> its fields as the page shows them.
    forms: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    last_print: dict[str, str] | None = None
    requests: int = 0
    #: Per visitor: (requests sent, seconds), reported at the end of the module.
    costs: dict[str, tuple[int, float]] = field(default_factory=dict)


ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def walks_of(app) -> list[Walk]:
    walks = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        arguments = [(name, kind or "default") for kind, name in ARGUMENT.findall(rule.rule)]
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            walks.append(Walk(rule.rule, rule.endpoint, method, arguments))
    return walks


def build_path(rule: str, values: dict[str, str]) -> str:
    return ARGUMENT.sub(lambda match: quote(values[match.group(2)], safe=""), rule)


class FormReader(HTMLParser):
    """The POST forms of a page: action path -> [(name, value)] as the browser would send."""

    def __init__(self, page_path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: dict[str, list[tuple[str, str]]] = {}
        self.current: list[tuple[str, str]] | None = None
        self.textarea: str | None = None
        self.select: str | None = None
        self.select_value: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {name: value or "" for name, value in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            action = urlsplit(a.get("action") or self.page_path).path or self.page_path
            self.current = self.forms.setdefault(action, [])
        elif self.current is None or "name" not in a:
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.current.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self.textarea = a["name"]
            self.current.append((a["name"], ""))
        elif tag == "select":
            self.select, self.select_value = a["name"], None
        if (
            tag == "option"
            and self.select is not None
            and (self.select_value is None or "selected" in a)
        ):
            self.select_value = a.get("value", "")

    def handle_data(self, data):
        if self.textarea and self.current:
            name, value = self.current[-1]
            self.current[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "select" and self.select is not None and self.current is not None:
            self.current.append((self.select, self.select_value or ""))
            self.select = None


def _table_digest(table) -> str:
    """PostgreSQL: the table's name and an MD5 of its rows as text, in a stable order."""
    rows = "string_agg(t::text, ',' ORDER BY t::text)"
    return f"SELECT '{table.name}', md5(coalesce({rows}, '')) FROM \"{table.name}\" AS t"  # noqa: S608


def fingerprint(engine) -> dict[str, str]:
    """A digest of each table's rows (audit tables: the kinds of their events by id)."""
    tables = [table for table in Base.metadata.sorted_tables if table.name not in BOOKKEEPING]
    with engine.connect() as connection:
        kinds = connection.exec_driver_sql("SELECT id, kind FROM audit_events ORDER BY id").all()
        if engine.dialect.name == "postgresql":
            # One round trip for all tables: the server digests each table's rows.
            query = " UNION ALL ".join(map(_table_digest, tables))
            digests = dict(connection.exec_driver_sql(query).all())
        else:
            digests = {}
            for table in tables:
                order = list(table.primary_key.columns)
                rows = connection.execute(select(table).order_by(*order)).all()
                digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    digests["audit_kinds"] = [tuple(row) for row in kinds]
    return digests


def writes_on_refusal(before: dict, after: dict) -> list[str]:
    """Tables a refused request changed, beyond a logged refusal added to the audit trail."""
    changed = [
        name
        for name in after
        if name not in AUDIT_TABLES and name != "audit_kinds" and before.get(name) != after[name]
    ]
    old, new = before["audit_kinds"], after["audit_kinds"]
    if new[: len(old)] != old:
        changed.append("audit_events (changed)")
    added = {kind for _id, kind in new[len(old) :]}
    if added - LOGGED_REFUSALS:
        changed.append(f"audit_events {sorted(added - LOGGED_REFUSALS)}")
    return changed


# -- arranging ----------------------------------------------------------------------------


def _arrange_rows(session) -> None:
    business = factories.make_business(session)
    service = factories.make_service(session, business)
    provider = factories.make_provider(session, business, [service])
    factories.enable_terms(session, business)
    factories.enable_policy(session, business)
    rival = factories.make_business(session, slug="rival", name="Rival Studio")
    rival_service = factories.make_service(session, rival, name="Massage")
    factories.make_provider(session, rival, [rival_service], name="Robin")
    settings_row = SecuritySettings.defaults(business.id)
    settings_row.client_accounts_enabled = True
    session.add(settings_row)
    for role, email, password, name in (
        ("owner", OWNER_EMAIL, OWNER_PASSWORD, "Olivia Owner"),
        ("staff", STAFF_EMAIL, STAFF_PASSWORD, "Sam Staff"),
    ):
        create_staff_user(session, business, email=email, password=password, role=role, name=name)
    kinds = dict(business=business, service=service, provider=provider)
    factories.make_booking(session, **kinds, start=SLOT)
    factories.make_booking(session, **kinds, start=SLOT + timedelta(hours=2), status="pending")
    factories.make_booking(session, **kinds, start=NOW - timedelta(days=3), name="Paul Past")
    factories.enable_gift_cards(session, business, NOW)
    session.add(
        GiftCard(
            business_id=business.id, code="FUZZCARD2026", value_cents=5000, balance_cents=5000,
            expires_on=date(2026, 12, 31), status="active", note="", created_at=NOW,
        )
    )  # fmt: skip
    session.add(DayOff(provider_id=provider.id, day=date(2026, 3, 10), note="Holiday"))
    session.commit()


def _sign_in_visitors(world: World) -> None:
    from tests.test_client_accounts import book, last_mail, link_in, sign_up
    from tests.test_client_accounts import sign_in as client_sign_in
    from tests.test_support import SUPPORT_EMAIL, SUPPORT_PASSWORD

    app = world.app
    world.visitors["public"] = app.test_client()

    client = app.test_client()
    assert sign_up(client).status_code == 200
    assert client.get(link_in(last_mail(app))).status_code == 302
    assert client_sign_in(client).status_code == 302
    # An hour after the bookings arranged above (SLOT itself is taken).
    booked = book(client, world.path_values["service_id"][0], start="2026-03-03T10:00Z")
    assert booked.status_code == 303, booked.text
    world.path_values["token"] = [urlsplit(booked.headers["Location"]).path.split("/")[4]]
    world.visitors["client"] = client

    for role, email, password in (
        ("owner", OWNER_EMAIL, OWNER_PASSWORD),
        ("staff", STAFF_EMAIL, STAFF_PASSWORD),
    ):
        visitor = app.test_client()
        assert sign_in(visitor, email, password).status_code == 302
        world.visitors[role] = visitor

    from portal.cli import main

    made = CliRunner().invoke(
        main, ["create-support-user", "--email", SUPPORT_EMAIL, "--password", SUPPORT_PASSWORD]
    )
    assert made.exit_code == 0, made.output
    secret = re.search(r"\(shown once\): ([A-Z2-7 ]+)", made.output).group(1).replace(" ", "")
    support = app.test_client()
    page = support.get("/support/login")
    code = totp.code_at(secret, totp.time_step(NOW + timedelta(seconds=5)))
    signed = support.post(
        "/support/login",
        data={
            "csrf_token": csrf_token(page.text),
            "email": SUPPORT_EMAIL,
            "password": SUPPORT_PASSWORD,
            "code": code,
        },
    )
    assert signed.status_code in (302, 303), signed.text
    token = csrf_token(support.get("/support/").text)
    opened = support.post("/support/open/salon", data={"csrf_token": token})
    assert opened.status_code == 303, opened.text
    world.visitors["support"] = support


def _real_path_values(engine) -> dict[str, list[str]]:
    tables = {
        "booking_id": "bookings", "service_id": "services", "provider_id": "providers",
        "client_id": "clients", "card_id": "gift_cards", "message_id": "outbox_messages",
        "user_id": "staff_users", "day_off_id": "days_off",
    }  # fmt: skip
    values: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for argument, table in tables.items():
            ids = connection.exec_driver_sql(f"SELECT id FROM {table} ORDER BY id").scalars()  # noqa: S608
            values[argument] = [str(i) for i in ids]
        accounts = connection.exec_driver_sql("SELECT id FROM client_accounts").scalars()
    values["account_id"] = values["user_id"] + [str(i) for i in accounts]
    values["slug"] = ["salon"]
    values["kind"] = ["staff", "client"]
    values["filename"] = ["portal.css"]
    return values


def _read_forms(world: World) -> None:
    """Each visitor opens every page it can (with real ids) and keeps the forms it shows."""
    for role, visitor in world.visitors.items():
        forms: dict[str, list[tuple[str, str]]] = {}
        for walk in world.walks:
            if walk.method != "GET" or "<path:" in walk.rule or "logo-" in walk.rule:
                continue
            values = {name: (world.path_values.get(name) or ["1"])[0] for name, _ in walk.arguments}
            path = build_path(walk.rule, values)
            page = visitor.get(path)
            if page.status_code == 200 and page.mimetype == "text/html":
                reader = FormReader(path)
                reader.feed(page.text)
                for action, fields in reader.forms.items():
                    forms.setdefault(action, fields)
                    token = dict(fields).get("csrf_token")
                    if token:
                        world.tokens[role] = token
        world.forms[role] = forms


@pytest.fixture(scope="module")
def world(tmp_path_factory, migrated_template, database_backend, request):
    """One app on one database, its visitors signed in, the forms their pages show."""
    directory = tmp_path_factory.mktemp("fuzz")
    with ExitStack() as stack:
        url = stack.enter_context(
            migrated_database(directory, migrated_template, database_backend, request)
        )
        env = stack.enter_context(pytest.MonkeyPatch.context())
        for name in [n for n in os.environ if n.startswith("PORTAL_")]:
            env.delenv(name)
        for name, value in {
            "PORTAL_ENV": "testing",
            "PORTAL_INSTANCE_PATH": str(directory / "instance"),
            "PORTAL_SECRET_KEY": "test-secret-key-not-for-production",
            "PORTAL_DATABASE_URL": url,
            "PORTAL_BASE_URL": "http://portal.test",
            "PORTAL_BOOKING_RATE_LIMIT": "100000 per minute",
            "PORTAL_SIGNIN_RATE_LIMIT": "100000 per minute",
            "PORTAL_SIGNIN_ACCOUNT_RATE_LIMIT": "100000 per minute",
        }.items():
            env.setenv(name, value)
        stack.enter_context(time_machine.travel(NOW, tick=True))
        app = create_app()
        stack.callback(portal_db.dispose_all)
        engine = create_engine(url)
        stack.callback(engine.dispose)
        session = portal_db.reader()
        _arrange_rows(session)
        session.close()
        walks = walks_of(app)
        world = World(app, engine, walks, _real_path_values(engine), ids=[])
        _sign_in_visitors(world)
        world.path_values.update(
            {k: v for k, v in _real_path_values(engine).items() if k not in ("token",)}
        )
        world.ids = sorted({int(v) for name, vs in world.path_values.items()
                            if name.endswith("_id") for v in vs})  # fmt: skip
        _read_forms(world)
        outbox(app)
        yield world
        report(request.config, world)


def report(config, world: World) -> None:
    """Say what the walk covered and cost (``make test`` shows it after the run)."""
    if not world.costs:
        return
    rules = len({walk.rule for walk in world.walks})
    requests = sum(sent for sent, _ in world.costs.values())
    seconds = sum(spent for _, spent in world.costs.values())
    line = (
        f"fuzz ({PROFILE} profile, {OWN_AREA.max_examples} examples per rule in a visitor's "
        f"own area, 1 elsewhere): {rules} rules, {len(world.walks)} rule/method pairs, "
        f"{len(world.costs)} visitors, {requests} requests in {seconds:.1f} s"
    )
    config.pluginmanager.register(CostReport(line), "portal-fuzz-cost")


class CostReport:
    """A plugin registered when the walk is done: its line goes in the run's summary."""

    def __init__(self, line: str) -> None:
        self.line = line

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(self.line)


# -- the walk -----------------------------------------------------------------------------


def send(world: World, role: str, walk: Walk, data) -> None:
    """One generated request; fails on a 5xx, and on a 4xx that wrote anything."""
    values = {
        name: data.draw(path_value(name, kind, world), label=name) for name, kind in walk.arguments
    }
    path = build_path(walk.rule, values)
    value = hostile_value(world.ids)
    query = data.draw(
        st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | ANY_TEXT, value), max_size=3),
        label="query",
    )
    body = None
    if walk.method == "POST":
        real_path = build_path(
            walk.rule, {n: (world.path_values.get(n) or ["1"])[0] for n, _ in walk.arguments}
        )
        shown = world.forms[role].get(real_path) or []
        names = [name for name, _ in shown if name != "csrf_token"] or ["name", "value", "day"]
        fields = [(n, v) for n, v in shown if n != "csrf_token"]
        if fields and data.draw(st.booleans(), label="leave out some fields"):
            fields = data.draw(st.lists(st.sampled_from(fields), unique=True), label="kept")
        changes = data.draw(
            st.lists(st.tuples(st.sampled_from(names) | ANY_TEXT, value), max_size=4),
            label="changed fields",
        )
        changed = {name for name, _ in changes}
        fields = [(n, v) for n, v in fields if n not in changed] + changes
        tokens = ["valid", "valid", "valid", "missing", "bad"]
        if walk.endpoint in SESSION_ENDERS and role != "public":
            tokens = ["missing", "bad"]
        csrf = data.draw(st.sampled_from(tokens), label="csrf token")
        if csrf != "missing":
            token = world.tokens.get(role, "")
            fields.append(("csrf_token", token if csrf == "valid" else token[::-1]))
        body = {}
        for name, field_value in fields:
            body.setdefault(name, []).append(field_value)
    visitor = world.visitors[role]
    response = visitor.open(path, method=walk.method, query_string=query, data=body)
    response.close()
    world.requests += 1
    assert response.status_code < 500, f"{walk.label} as {role}: {path} {query} {body}"
    after = fingerprint(world.engine)
    before, world.last_print = world.last_print, after
    if 400 <= response.status_code < 500 and before is not None:
        written = writes_on_refusal(before, after)
        assert not written, (
            f"{walk.label} as {role} answered {response.status_code} and wrote {written}"
        )


def fuzzer(world: World, role: str, walk: Walk):
    """The Hypothesis test of one rule and method as one visitor."""
    own = walk.rule.startswith(AREAS[role]) or walk.rule == "/b/<slug>/"

    @(OWN_AREA if own else ELSEWHERE)
    @given(data=st.data())
    def fuzz(data):
        send(world, role, walk, data)

    return fuzz


@pytest.mark.parametrize("role", ["public", "client", "staff", "support", "owner"])
def test_no_route_answers_a_5xx_or_writes_on_a_refusal(world, role):
    world.last_print = fingerprint(world.engine)
    started, sent = time.perf_counter(), world.requests
    failures = []
    for walk in world.walks:
        try:
            fuzzer(world, role, walk)()
        except Exception as failure:  # an error the app let through is a 500 too
            first = (str(failure).splitlines() or [""])[0][:400]
            failures.append(f"{walk.label} as {role}: {type(failure).__name__}: {first}")
            world.last_print = fingerprint(world.engine)
    world.costs[role] = (world.requests - sent, time.perf_counter() - started)
    assert not failures, "\n".join(failures)


def test_the_walk_covers_every_rule(world):
    """Every rule of the map is walked, with each of its methods among GET and POST."""
    expected = {
        (rule.rule, method)
        for rule in world.app.url_map.iter_rules()
        for method in (rule.methods or set()) & {"GET", "POST"}
    }
    assert {(walk.rule, walk.method) for walk in world.walks} == expected
    assert {walk.endpoint for walk in world.walks} >= SESSION_ENDERS
    assert len({walk.rule for walk in world.walks}) > 90
