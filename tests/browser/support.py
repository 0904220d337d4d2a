"""What the browser tests share: the server they drive, e-mails, screenshots, axe, keyboard."""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import NOW
from tests.gunicorn_server import real_time

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"

VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    # The narrowest phones in use; the pages must not scroll sideways there.
    "narrow": {"viewport": {"width": 320, "height": 640}, "is_mobile": True, "has_touch": True},
}

#: axe impacts that fail a test ("minor" and "moderate" findings do not).
BLOCKING_IMPACTS = {"serious", "critical"}

MANAGE_LINK = re.compile(r"https?://\S+/b/[a-z0-9-]+/manage/[A-Za-z0-9_-]+")


@dataclass
class PortalServer:
    """A gunicorn-served Portal on a database of its own, and what the tests know about it."""

    url: str
    engine: Engine
    outbox: Path
    clock_file: Path
    #: The real epoch seconds at which the server's clock showed ``NOW``.
    now_real: float
    ids: dict[str, int] = field(default_factory=dict)

    def _frozen_now(self) -> datetime:
        return NOW + timedelta(seconds=real_time() - self.now_real)

    def now(self) -> datetime:
        """The server's clock, as ``tests.browser.clock_wsgi`` moves it."""
        text = self.clock_file.read_text().strip() if self.clock_file.exists() else ""
        return self._frozen_now() + timedelta(seconds=float(text or 0))

    def move_clock_to(self, instant: datetime) -> None:
        """From the next request on, the server's clock shows ``instant`` (and runs on)."""
        self._write_offset((instant - self._frozen_now()).total_seconds())

    def reset_clock(self) -> None:
        self._write_offset(0.0)

    def _write_offset(self, seconds: float) -> None:
        # Replaced, not rewritten in place: the server never reads a half-written number.
        draft = self.clock_file.with_suffix(".new")
        draft.write_text(repr(seconds))
        draft.replace(self.clock_file)

    @contextmanager
    def session(self):
        """A session on the server's database, for arranging and checking data."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def mails_to(self, address: str) -> list[EmailMessage]:
        """The e-mails the server wrote to its outbox for ``address``, oldest first."""
        messages = []
        for path in sorted(self.outbox.glob("*.eml")) if self.outbox.exists() else []:
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            if address in str(message["To"]):
                messages.append(message)
        return messages

    def wait_for_mail(self, address: str, subject: str, timeout: float = 10.0) -> EmailMessage:
        """The newest e-mail to ``address`` whose subject contains ``subject``.

        Waits for the file to appear (the server may send after it answered)
        instead of assuming it is there the moment the page shows.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.mails_to(address) if subject in str(m["Subject"])]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                subjects = [str(m["Subject"]) for m in self.mails_to(address)]
                raise AssertionError(f"no e-mail {subject!r} to {address}; got {subjects}")
            time.sleep(0.05)


def mail_text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def manage_link(message: EmailMessage) -> str:
    match = MANAGE_LINK.search(mail_text(message))
    assert match, "no manage link in the e-mail"
    return match.group(0)


def choose_first_time_on(page: Page, day: str) -> str:
    """On the slot page: pick ``day`` (like "Wed 4 Mar") and its first free time; return it."""
    cell = page.get_by_role("list", name="Days").get_by_role("link", name=day)
    cell.click()
    expect(cell).to_have_attribute("aria-current", "date")
    first = page.locator(".slots").get_by_role("link").first
    time_shown = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    return time_shown


def fill_details(page: Page, email: str) -> None:
    page.get_by_label("Your name").fill("Mia Example")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Phone").fill("+49 30 1234567")


def book(page: Page, email: str, day: str) -> None:
    """Book the salon's Haircut at the first free time on ``day``, ticking both consents."""
    page.goto("/b/salon/")
    page.get_by_role("link", name="Choose a time for Haircut").click()
    choose_first_time_on(page, day)
    fill_details(page, email)
    page.get_by_label("I accept the terms and conditions").check()
    page.get_by_label("I have read and accept the cancellation policy").check()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()


def sign_in_staff(page: Page, email: str, password: str) -> None:
    """Fill in and send the staff sign-in form (what follows depends on 2FA)."""
    page.goto("/staff/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def staff_nav(page: Page, name: str = "Staff area") -> Locator:
    """The staff navigation a person can use now: the sidebar, or on a phone the menu, opened."""
    page.wait_for_load_state()
    if page.viewport_size and page.viewport_size["width"] < 896:  # 56rem: the sidebar's width
        menu = page.locator("details.staff-menu")
        if menu.get_attribute("open") is None:
            menu.locator("summary").click()
    return page.get_by_role("navigation", name=name)


def page_errors(console: list[str]) -> list[str]:
    """Script errors and refusals (CSP) in the console; HTTP statuses are checked on the page."""
    return [
        line
        for line in console
        if line.startswith(("error", "pageerror")) and "Failed to load resource" not in line
    ]


class Screenshots:
    """Saves ``test-artifacts/<viewport>/<nn>-<step>.png``, numbered across the run."""

    _counters: dict[str, int] = {}

    def __init__(self, page: Page, viewport: str) -> None:
        self.page = page
        self.viewport = viewport
        self.folder = ARTIFACTS / viewport
        if viewport not in self._counters:
            # A new run starts a clean folder: old pictures would mix with new ones.
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.glob("*.png"):
                old.unlink()
            self._counters[viewport] = 0

    def __call__(self, step: str) -> Path:
        self._counters[self.viewport] += 1
        path = self.folder / f"{self._counters[self.viewport]:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


_axe = Axe()


def blocking_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    results = _axe.run(page)
    return [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['html'][:160]}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    violations = blocking_violations(page)
    assert not violations, f"axe on {page.url}:\n{describe(violations)}"


FOCUS_STYLE = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const style = getComputedStyle(element);
  return {
    tag: element.tagName.toLowerCase(),
    text: (element.innerText || element.value || element.name || '').trim().slice(0, 60),
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth) || 0,
    boxShadow: style.boxShadow,
  };
}"""


def focused_style(page: Page) -> dict | None:
    return page.evaluate(FOCUS_STYLE)


def assert_focus_visible(page: Page) -> None:
    """The focused element shows a focus ring: an outline or a box shadow."""
    style = focused_style(page)
    assert style is not None, "nothing has the focus"
    has_outline = style["outlineStyle"] != "none" and style["outlineWidth"] > 0
    has_shadow = style["boxShadow"] not in ("", "none")
    assert has_outline or has_shadow, f"no visible focus on {style}"


def is_focused(locator: Locator) -> bool:
    return locator.evaluate("element => element === document.activeElement")


def tab_to(page: Page, target: Locator, limit: int = 80) -> None:
    """Press Tab until ``target`` has the focus, checking every stop shows its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        assert_focus_visible(page)
        if is_focused(target):
            return
    raise AssertionError(f"{target} not reached with {limit} presses of Tab")


class Site:
    """Another website: one HTML page served by http.server on 127.0.0.1:<free port>.

    Its address is known once it runs; set ``html`` (the page it serves) after.
    """

    def __init__(self) -> None:
        self.html = "<!doctype html><title>Empty</title>"
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
