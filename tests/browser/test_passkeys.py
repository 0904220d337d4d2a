"""Passkeys in Debian's chromium, with Chrome's virtual authenticator (issue 17's proofs).

The authenticator is chromium's own (``WebAuthn.addVirtualAuthenticator``
through a DevTools session): it makes real keys, signs real challenges and
keeps the discoverable credentials it created, as a phone or a laptop would.
It answers at once, as if the person touched the sensor and unlocked it
(user verification done).

WebAuthn needs a domain name as relying party, never an IP address: this
module's server has ``PORTAL_BASE_URL=http://localhost:<port>`` and the
browser opens it by that name (gunicorn listens on 127.0.0.1, where chromium
finds it: localhost means the loopback addresses). ``http://localhost`` is a
secure context for chromium, so passkeys work without TLS.

HIPAA mode sends every request that is not HTTPS to https://; as in
production, a TLS proxy in front of Portal says the request came over HTTPS
(``X-Forwarded-Proto``, which gunicorn trusts from 127.0.0.1). The HIPAA test
puts that proxy's header on the browser's requests (and the https:// referrer
the browser would send there); the other tests send plain HTTP.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pyotp
import pytest
import time_machine
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from portal.accounts.models import Passkey, SecuritySettings, StaffUser
from portal.accounts.service import create_staff_user
from portal.audit.models import AuditEvent
from portal.businesses.models import Business
from portal.db import SQLITE_BEGIN_OPTION
from portal.hipaa.models import ComplianceSettings
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.support import VIEWPORTS, Screenshots, assert_accessible, page_errors

SERVER_HOST = "localhost"

PASSWORD = "copper lantern meadow 42"
LANGUAGES = ["en", "de"]
SCREENS = ["desktop", "phone"]
#: Every run of a parametrized walk signs in as a user of its own (one database per module).
RUN = pytest.mark.parametrize(
    ("viewport", "lang"), [(v, lang) for v in SCREENS for lang in LANGUAGES]
)

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


class Authenticator:
    """Chromium's virtual authenticator, attached to one page (as a laptop's built-in sensor)."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})[
            "authenticatorId"
        ]

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]


@pytest.fixture
def authenticator(context, page) -> Authenticator:
    return Authenticator(context, page)


@pytest.fixture
def shots(page, viewport) -> Screenshots:
    """Screenshots in test-artifacts/passkeys-<viewport>/."""
    return Screenshots(page, f"passkeys-{viewport}")


@contextmanager
def writing(portal):
    """A session that reads and writes: it takes the writers' turn first.

    On SQLite a transaction that reads and then writes would have to upgrade its
    lock, which fails at once while the server writes; ``BEGIN IMMEDIATE`` waits
    its turn instead.
    """
    with portal.session() as session:
        session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        yield session


def make_user(portal, email: str, role: str = "staff") -> int:
    """A staff user (password ``PASSWORD``, no second factor) at the server's clock."""
    with time_machine.travel(portal.now(), tick=False), writing(portal) as session:
        business = session.get(Business, portal.ids["business"])
        user = create_staff_user(
            session, business, email=email, password=PASSWORD, role=role, name="Pat Passkey"
        )
        session.commit()
        return user.id


def passkeys_of(portal, user_id: int) -> list[Passkey]:
    with portal.session() as session:
        return list(
            session.scalars(
                select(Passkey).where(Passkey.staff_user_id == user_id).order_by(Passkey.id)
            )
        )


def audited(portal, kind: str, user_id: int) -> list[dict]:
    """The details of ``user_id``'s audit events of ``kind``, oldest first."""
    with portal.session() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.kind == kind, AuditEvent.actor_id == user_id)
            .where(AuditEvent.actor_kind == "staff")
            .order_by(AuditEvent.id)
        )
        return [event.details for event in events]


def set_security(portal, **values) -> None:
    with writing(portal) as session:
        settings = session.get(SecuritySettings, portal.ids["business"])
        for name, value in values.items():
            setattr(settings, name, value)
        session.commit()


def set_hipaa(portal, on: bool) -> None:
    with writing(portal) as session:
        settings = session.get(ComplianceSettings, portal.ids["business"])
        if settings is None:
            settings = ComplianceSettings.defaults(portal.ids["business"])
            session.add(settings)
        settings.hipaa_mode = on
        session.commit()


@contextmanager
def policy(portal, **values):
    """The business's security settings changed for one test, then set back."""
    with portal.session() as session:
        settings = session.get(SecuritySettings, portal.ids["business"])
        before = {name: getattr(settings, name) for name in values}
    set_security(portal, **values)
    try:
        yield
    finally:
        set_security(portal, **before)


def open_in(page: Page, path: str, lang: str) -> None:
    """Open ``path`` in ``lang`` (``?lang=`` is remembered by the session, across sign-in)."""
    page.goto(f"{path}?lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", lang)


def assert_fits_the_screen(page: Page) -> None:
    """The page does not scroll sideways (phones)."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


def signed_in(page: Page):
    """The "Sign out" button: there only for a signed-in user."""
    return page.locator("form.signout button")


def sign_in_with_password(page: Page, email: str, password: str = PASSWORD) -> None:
    """Send the staff sign-in form (in whatever language the page speaks)."""
    if not page.url.endswith("/staff/login") and "/staff/login?" not in page.url:
        page.goto("/staff/login")
    form = page.locator("form:has(input[name=password])")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()


def sign_out(page: Page) -> None:
    signed_in(page).click()
    expect(page).to_have_url(re.compile(r"/staff/login"))
    expect(signed_in(page)).to_have_count(0)


def add_passkey(page: Page, portal, name: str, confirm: str = PASSWORD) -> None:
    """On the passkeys page: name the passkey, confirm with the password, add it."""
    expect(page).to_have_url(re.compile(r"/staff/account/passkeys$"))
    form = page.locator("#passkey-add")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=confirm]").fill(confirm)
    form.locator("button[type=submit]").click()


def see_recovery_codes_and_continue(page: Page, portal, shots=None, step: str = "") -> None:
    """The first second factor comes with recovery codes, shown once; then on."""
    expect(page).to_have_url(f"{portal.url}/staff/account/passkeys/recovery-codes")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    assert_fits_the_screen(page)
    if shots is not None:
        shots(step)
    page.locator("#main a.button").last.click()
    expect(page).not_to_have_url(re.compile(r"/recovery-codes"))


def enrol(page: Page, portal, email: str, lang: str, name: str = "office laptop") -> None:
    """Sign in with the password and add a first passkey; end on the passkeys page."""
    open_in(page, "/staff/login", lang)
    sign_in_with_password(page, email)
    expect(signed_in(page)).to_be_visible()
    page.goto("/staff/account/passkeys")
    add_passkey(page, portal, name)
    see_recovery_codes_and_continue(page, portal)
    page.goto("/staff/account/passkeys")
    expect(page.locator("#passkey-list")).to_contain_text(name)


# --- 1. Add a passkey, sign out, sign in with it (no e-mail typed) ------------------


@RUN
def test_add_a_passkey_then_sign_in_with_it_without_typing_an_email(
    page, portal, authenticator, shots, console, viewport, lang
):
    email = f"pk.add.{viewport}.{lang}@salon.example"
    user_id = make_user(portal, email)

    open_in(page, "/staff/login", lang)
    button = page.locator("#passkey-signin")
    expect(button).to_be_visible()  # the script shows it: this browser has WebAuthn
    assert_accessible(page)
    assert_fits_the_screen(page)
    shots(f"{lang}-login-with-passkey-button")

    sign_in_with_password(page, email)
    expect(signed_in(page)).to_be_visible()
    page.goto("/staff/account/passkeys")
    expect(page.locator("#passkey-add")).to_be_visible()
    shots(f"{lang}-passkeys-none-yet")

    add_passkey(page, portal, "office laptop")
    # Their first second factor: the recovery codes, once.
    see_recovery_codes_and_continue(page, portal, shots, f"{lang}-recovery-codes")
    page.goto("/staff/account/passkeys/recovery-codes")  # shown once only
    expect(page).to_have_url(f"{portal.url}/staff/account/passkeys")
    expect(page.locator("#recovery-codes")).to_have_count(0)
    expect(page.locator("#passkey-list")).to_contain_text("office laptop")
    assert_accessible(page)
    assert_fits_the_screen(page)
    shots(f"{lang}-passkeys-one-listed")

    [credential] = authenticator.credentials()
    assert credential["rpId"] == "localhost"
    assert credential["isResidentCredential"] is True  # discoverable: no e-mail needed
    [stored] = passkeys_of(portal, user_id)
    assert stored.name == "office laptop"
    assert stored.last_used_at is None

    assert len(audited(portal, "passkey.added", user_id)) == 1

    sign_out(page)
    open_in(page, "/staff/login", lang)
    expect(page.locator("input[name=email]")).to_have_value("")  # nothing typed
    page.locator("#passkey-signin").click()
    expect(signed_in(page)).to_be_visible()
    expect(page).to_have_url(f"{portal.url}/staff/")
    [stored] = passkeys_of(portal, user_id)
    assert stored.last_used_at is not None
    assert audited(portal, "signin.success", user_id)[-1].get("method") == "passkey"
    with portal.session() as session:
        assert session.get(StaffUser, user_id).email == email
    shots(f"{lang}-signed-in-with-passkey")
    assert page_errors(console) == []


def test_a_removed_passkey_is_refused_with_one_message(page, portal, authenticator, console):
    """Removing is audited and e-mailed; the device still offers the key, the portal refuses it."""
    email = "pk.removed@salon.example"
    user_id = make_user(portal, email)
    enrol(page, portal, email, "en")
    page.get_by_role("button", name="Remove the passkey “office laptop”").click()
    expect(page.locator("#no-passkeys")).to_be_visible()
    assert passkeys_of(portal, user_id) == []
    assert len(audited(portal, "passkey.removed", user_id)) == 1
    assert portal.wait_for_mail(email, "A passkey was removed")
    sign_out(page)

    assert len(authenticator.credentials()) == 1  # still on the device
    page.locator("#passkey-signin").click()
    message = page.locator("[data-passkey-message]")
    expect(message).to_have_text(
        "That passkey could not be used. Try again, or sign in with your password instead."
    )
    expect(message).to_have_attribute("role", "alert")
    expect(signed_in(page)).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/staff/login"))
    with portal.session() as session:
        refusals = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "passkey.failure")
        ).all()
    assert refusals, "the refused passkey is not in the audit log"
    assert page_errors(console) == []


# --- 2. A passkey as the second factor after the password --------------------------


@RUN
def test_passkey_as_the_second_factor_after_the_password(
    page, portal, authenticator, shots, console, viewport, lang
):
    email = f"pk.second.{viewport}.{lang}@salon.example"
    user_id = make_user(portal, email)
    enrol(page, portal, email, lang)
    sign_out(page)

    sign_in_with_password(page, email)
    expect(page).to_have_url(f"{portal.url}/staff/2fa")
    expect(signed_in(page)).to_have_count(0)  # the password alone is not enough
    button = page.locator("#passkey-second-factor")
    expect(button).to_be_visible()
    assert_accessible(page)
    assert_fits_the_screen(page)
    shots(f"{lang}-2fa-with-passkey-button")

    button.click()
    expect(signed_in(page)).to_be_visible()
    expect(page).to_have_url(f"{portal.url}/staff/")
    [stored] = passkeys_of(portal, user_id)
    assert stored.last_used_at is not None
    assert audited(portal, "signin.success", user_id)[-1].get("method") == "passkey"
    assert page_errors(console) == []


# --- 3. "Passkey required": enrolment right after the password ----------------------


@RUN
def test_passkey_required_forces_enrolment_before_any_other_page(
    page, portal, authenticator, shots, console, viewport, lang
):
    email = f"pk.owner.{viewport}.{lang}@salon.example"
    user_id = make_user(portal, email, role="owner")
    with policy(portal, passkey_policy="owners"):
        open_in(page, "/staff/login", lang)
        sign_in_with_password(page, email)
        expect(page).to_have_url(f"{portal.url}/staff/account/passkeys")
        reason = page.locator("#passkey-required")
        expect(reason).to_be_visible()
        if lang == "en":
            expect(reason).to_contain_text("requires a passkey")
        assert_accessible(page)
        assert_fits_the_screen(page)
        shots(f"{lang}-passkey-required")

        # No other staff page until a passkey is added.
        for path in ("/staff/", "/staff/bookings"):
            page.goto(path)
            expect(page).to_have_url(f"{portal.url}/staff/account/passkeys")

        add_passkey(page, portal, "office laptop")
        see_recovery_codes_and_continue(page, portal)
        page.goto("/staff/")
        expect(page).to_have_url(f"{portal.url}/staff/")
        expect(signed_in(page)).to_be_visible()
        assert len(passkeys_of(portal, user_id)) == 1
    assert page_errors(console) == []


# --- 4. HIPAA mode accepts a passkey as the second factor --------------------------


def through_tls_proxy(context: BrowserContext, portal) -> None:
    """Every request to Portal as a TLS proxy forwards it, with the https:// referrer.

    The header goes on every request (redirects too); a form's or a script's POST
    also gets the Referer the browser sends from an https:// page (Flask-WTF
    checks it over HTTPS). Chromium does not let a route change the Referer, so
    Playwright sends those requests itself and hands the answer back as it came.
    """
    context.set_extra_http_headers({"X-Forwarded-Proto": "https"})

    def forward(route, request) -> None:
        if request.method in ("GET", "HEAD"):
            route.continue_()
            return
        headers = request.all_headers()
        if "referer" in headers:
            headers["referer"] = headers["referer"].replace("http://", "https://", 1)
        route.fulfill(response=route.fetch(headers=headers, max_redirects=0))

    context.route(f"{portal.url}/**", forward)


def test_hipaa_mode_accepts_a_passkey_and_asks_for_no_authenticator_app(
    context, page, portal, authenticator, console
):
    email = "pk.hipaa@salon.example"
    user_id = make_user(portal, email)
    without_2fa = "pk.hipaa.no2fa@salon.example"
    second_id = make_user(portal, without_2fa)
    through_tls_proxy(context, portal)
    enrol(page, portal, email, "en")
    sign_out(page)

    set_hipaa(portal, True)
    try:
        page.goto("/staff/login")
        expect(page).to_have_url(f"{portal.url}/staff/login")  # over "HTTPS": no redirect
        page.locator("#passkey-signin").click()
        expect(signed_in(page)).to_be_visible()
        expect(page).to_have_url(f"{portal.url}/staff/")
        # Not sent to set up an authenticator app: the passkey is the second factor.
        for path in ("/staff/bookings", "/staff/clients"):
            page.goto(path)
            expect(page).to_have_url(f"{portal.url}{path}")
        with portal.session() as session:
            assert session.get(StaffUser, user_id).totp_enabled_at is None
        # HIPAA mode is on: every staff sign-in is e-mailed, and one without a
        # second factor is sent to set up the authenticator app.
        assert portal.wait_for_mail(email, "New sign-in")
        sign_out(page)
        sign_in_with_password(page, without_2fa)
        expect(page).to_have_url(f"{portal.url}/staff/account/2fa")
        # ... where a passkey may be chosen instead of the app, and is enough.
        page.locator("#passkeys-link").click()
        add_passkey(page, portal, "front desk")
        see_recovery_codes_and_continue(page, portal)
        page.goto("/staff/clients")
        expect(page).to_have_url(f"{portal.url}/staff/clients")
        with portal.session() as session:
            assert session.get(StaffUser, second_id).totp_enabled_at is None
        assert len(passkeys_of(portal, second_id)) == 1
    finally:
        set_hipaa(portal, False)
    assert page_errors(console) == []


# --- 5. Without JavaScript: no passkey button; password and app code still work ------


def set_up_authenticator_app(page: Page, portal) -> pyotp.TOTP:
    """Turn on the authenticator app (signed in); the app, as pyotp, that the key went into."""
    page.goto("/staff/account/2fa")
    app = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
    page.locator("input[name=code]").fill(app.at(portal.now()))
    page.locator("#main form button[type=submit]").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    return app


def test_without_javascript_password_and_app_code_still_sign_in(
    browser, page, portal, authenticator, console
):
    """A user with an authenticator app and a passkey, in a browser without JavaScript."""
    email = "pk.nojs@salon.example"
    user_id = make_user(portal, email)
    open_in(page, "/staff/login", "en")
    sign_in_with_password(page, email)
    expect(signed_in(page)).to_be_visible()
    app = set_up_authenticator_app(page, portal)
    page.goto("/staff/account/passkeys")
    add_passkey(page, portal, "office laptop", confirm=PASSWORD)
    expect(page.locator("#passkey-list")).to_contain_text("office laptop")
    assert len(passkeys_of(portal, user_id)) == 1
    assert page_errors(console) == []

    context = browser.new_context(
        base_url=portal.url, locale="en-GB", java_script_enabled=False, **VIEWPORTS["desktop"]
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        plain = context.new_page()
        plain.goto("/staff/login")
        expect(plain.locator("input[name=password]")).to_be_visible()
        expect(plain.locator("#passkey-signin")).to_be_hidden()
        sign_in_with_password(plain, email)
        expect(plain).to_have_url(f"{portal.url}/staff/2fa")
        expect(plain.locator("#passkey-second-factor")).to_be_hidden()
        # The code of the step after the one used to set the app up (a code works once).
        plain.locator("input[name=code]").fill(app.at(portal.now(), counter_offset=1))
        plain.locator("#main form button[type=submit]").click()
        expect(signed_in(plain)).to_be_visible()
        expect(plain).to_have_url(f"{portal.url}/staff/")
    finally:
        context.close()
