"""What every e-mail looks like on the wire: parts, charsets, sender, links, privacy.

Each e-mail is read back from the .eml the worker wrote (``outbox(app)``),
after the real flow (a booking posted with the test client, a sign-up).
"""

from __future__ import annotations

import email
import email.policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from portal.mail.compose import address_of, business_sender, compose, platform_sender
from tests.conftest import csrf_token, outbox
from tests.test_client_accounts import enable_accounts
from tests.test_flow import post_booking
from tests.test_hipaa import SECURE, set_hipaa

BASE_URL = "http://portal.test"
MAIL_FROM_ADDRESS = "no-reply@portal.invalid"  # the address of the default "Portal <...>"
TRICKY_NAME = 'Café "Zur Post", Köln'


# --- reading -----------------------------------------------------------------------------


def parse(path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def everything_in(path) -> str:
    """Every header and every text part of the raw message, decoded: what any reader sees."""
    message = parse(path)
    headers = [f"{name}: {value}" for part in message.walk() for name, value in part.items()]
    texts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(headers + texts)


class _Links(HTMLParser):
    """Every address an HTML part points to, and the tags it uses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str]] = []
        self.addresses: list[str] = []
        self.tags: set[str] = set()
        self.metas: dict[str, str] = {}

    def handle_starttag(self, tag, attrs) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.add(tag)
        if tag == "a":
            self.anchors.append(attributes)
        if tag == "meta" and "name" in attributes:
            self.metas[attributes["name"]] = attributes.get("content", "")
        for name in ("href", "src", "background", "action", "poster"):
            if name in attributes:
                self.addresses.append(attributes[name])


def links_of(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    parser.close()
    return parser


def style_of(anchor: dict[str, str]) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in anchor.get("style", "").split(";") if ":" in item)
    return {name.strip(): value.strip() for name, value in pairs}


def assert_only_portal_links(html: str) -> None:
    """No image or style sheet at all, and every link into the portal (or the business's
    contact details in the footer: its phone and e-mail address)."""
    links = links_of(html)
    assert not links.tags & {"img", "link", "script", "style", "iframe", "object", "video"}
    assert "url(" not in html and "@import" not in html
    assert links.addresses, "the HTML part links nowhere"
    allowed = (f"{BASE_URL}/", "mailto:", "tel:")
    assert all(address.startswith(allowed) for address in links.addresses), links.addresses


def assert_dark_mode_ready(html: str) -> None:
    metas = links_of(html).metas
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"


# --- acting ------------------------------------------------------------------------------


def book(app, client, salon) -> tuple[str, EmailMessage, object]:
    """A booking through the web flow; the manage path, the confirmation, its .eml path."""
    response = post_booking(client, salon, accept_terms="y", accept_policy="y")
    assert response.status_code == 303, response.text
    manage_path = response.headers["Location"].split("?")[0]
    [path] = outbox(app)
    return manage_path, parse(path), path


def secure_post(client, path: str, **data):
    """GET the form, then POST it over HTTPS (HIPAA mode wants HTTPS; Flask-WTF a Referer)."""
    page = client.get(path, **SECURE)
    assert page.status_code == 200, page.text
    return client.post(
        path,
        data={"csrf_token": csrf_token(page.text), **data},
        headers={"Referer": f"https://localhost{path}"},
        **SECURE,
    )


# --- structure and charsets ----------------------------------------------------------------


def test_a_confirmation_is_text_and_html_with_the_calendar_attached(app, client, salon):
    manage_path, message, path = book(app, client, salon)

    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert attachment.get_content_type() == "text/calendar"

    # Each text part names its charset, as the raw bytes show.
    raw = email.message_from_bytes(path.read_bytes())  # compat32: the headers as written
    types = [part["Content-Type"] for part in raw.walk() if part.get_content_maintype() == "text"]
    assert [" ".join(value.split()) for value in types] == [
        'text/plain; charset="utf-8"',
        'text/html; charset="utf-8"',
        'text/calendar; charset="utf-8"; method="PUBLISH"',
    ]
    assert attachment.get_filename() == "booking.ics"
    assert attachment.get_content_disposition() == "attachment"
    calendar = attachment.get_content()
    assert "METHOD:PUBLISH" in calendar
    assert "SUMMARY:Haircut – Salon Test" in calendar  # the en dash survives
    assert "DTSTART:20260303T090000Z" in calendar

    text = plain.get_content()
    assert f"{BASE_URL}{manage_path}" in text
    assert "Haircut" in text


def test_the_plain_text_part_ends_with_how_to_reach_the_business(app, client, session, salon):
    business = session.merge(salon.business)
    business.address = "Lindenstraße 12\n10969 Berlin"
    business.phone = "+49 30 1234567"
    business.website = "https://salon.example"
    session.commit()
    _manage_path, message, _path = book(app, client, salon)
    plain = message.get_payload()[0].get_payload()[0].get_content()
    assert plain.rstrip().endswith(
        "Salon Test\nLindenstraße 12, 10969 Berlin\nPhone: +49 30 1234567\nhttps://salon.example"
    )


def test_the_html_part_has_the_manage_button_and_the_calendar_link(app, client, salon):
    manage_path, message, _path = book(app, client, salon)
    html = html_of(message)
    assert_dark_mode_ready(html)
    assert_only_portal_links(html)
    assert "Hello Mia Example," in html
    assert "Haircut" in html and "Alex" in html
    assert "Tuesday, 03 March 2026, 10:00 – 10:30" in html

    anchors = links_of(html).anchors
    manage_url = f"{BASE_URL}{manage_path}"
    buttons = {anchor["href"]: style_of(anchor) for anchor in anchors if "style" in anchor}
    # A button keeps its contrast in dark mode: both colours are its own.
    for url in (manage_url, f"{manage_url}/booking.ics"):
        assert buttons[url]["background-color"] and buttons[url]["color"]
        assert buttons[url]["background-color"] != buttons[url]["color"]
    assert ">Manage or cancel</a>" in html
    assert ">Add to calendar</a>" in html
    # The plain address under the button, for readers that show no buttons.
    assert [a["href"] for a in anchors].count(manage_url) == 2


def test_add_to_calendar_downloads_the_same_calendar(app, client, salon):
    manage_path, message, _path = book(app, client, salon)
    response = client.get(f"{manage_path}/booking.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    downloaded = response.get_data(as_text=True)
    attached = next(message.iter_attachments()).get_content()
    for line in ("SUMMARY:Haircut – Salon Test", "DTSTART:20260303T090000Z", "STATUS:CONFIRMED"):
        assert line in downloaded
        assert line in attached
    assert client.get("/b/salon/manage/not-a-token/booking.ics").status_code == 404


def test_a_cancellation_is_multipart_too_and_its_calendar_cancels(app, client, salon):
    manage_path, _message, _path = book(app, client, salon)
    page = client.get(manage_path)
    response = client.post(f"{manage_path}/cancel", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    cancellation = parse(outbox(app)[-1])
    assert cancellation["Subject"].startswith("Booking cancelled")
    plain, html = cancellation.get_payload()[0].get_payload()
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    attachment = next(cancellation.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "CANCEL"
    assert attachment.get_content_charset() == "utf-8"
    assert "STATUS:CANCELLED" in attachment.get_content()
    html_text = html_of(cancellation)
    assert_dark_mode_ready(html_text)
    assert_only_portal_links(html_text)
    assert "Manage or cancel" not in html_text
    assert f'href="{BASE_URL}/b/salon/"' in html_text  # book another appointment


# --- sender, reply address, message id --------------------------------------------------


def test_the_sender_is_the_business_at_the_configured_address(app, client, salon):
    _manage, message, _path = book(app, client, salon)
    [sender] = message["From"].addresses
    assert sender.display_name == "Salon Test"
    assert sender.addr_spec == MAIL_FROM_ADDRESS  # not "Portal", the configured display name
    assert message["To"] == "Mia Example <mia@example.com>"
    assert message["Reply-To"] is None  # the salon has no contact address
    assert message["Message-ID"].endswith("@portal.invalid>")
    assert message["Date"] is not None
    # A confirmation is no mailing list: nothing to unsubscribe from.
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None


def test_a_name_with_quotes_commas_and_umlauts_is_encoded_safely(app, client, session, salon):
    salon.business.name = TRICKY_NAME
    salon.business.contact_email = "hallo@zurpost.example"
    session.commit()
    app.config["MAIL_FROM"] = "Portal Bookings <bookings@mail.example>"
    _manage, message, path = book(app, client, salon)

    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (TRICKY_NAME, "bookings@mail.example")
    assert parseaddr(str(message["From"])) == (TRICKY_NAME, "bookings@mail.example")
    # On the wire the header is plain ASCII (an encoded word), one address, no stray comma.
    raw_from = next(
        line for line in path.read_bytes().splitlines() if line.startswith(b"From:")
    ).decode("ascii")
    assert "Köln" not in raw_from and raw_from.endswith("<bookings@mail.example>")
    assert len(email.message_from_bytes(path.read_bytes())["From"].split("<")) == 2
    assert message["Reply-To"].addresses == (Address(addr_spec="hallo@zurpost.example"),)
    assert message["Message-ID"].endswith("@mail.example>")
    assert "Café &#34;Zur Post&#34;, Köln" in html_of(message)  # escaped in the HTML


def test_compose_adds_unsubscribe_headers_only_when_asked():
    common = dict(
        sender_name="Salon Test",
        sender_address="no-reply@portal.invalid",
        to=("Mia Example", "mia@example.com"),
        subject="Reminder",
        text="Hello",
        html="<p>Hello</p>",
    )
    plain = compose(**common)
    assert plain["List-Unsubscribe"] is None and plain["List-Unsubscribe-Post"] is None
    assert plain.get_content_type() == "multipart/alternative"

    url = f"{BASE_URL}/b/salon/manage/token/unsubscribe"
    reminder = compose(**common, unsubscribe_url=url, reply_to="hallo@salon.example")
    assert reminder["List-Unsubscribe"] == f"<{url}>"
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert reminder["Reply-To"] == "hallo@salon.example"
    assert reminder["Message-ID"].endswith("@portal.invalid>")
    parsed = email.message_from_bytes(bytes(reminder), policy=email.policy.default)
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_parts_go_as_written_unless_a_line_is_too_long_for_smtp():
    common = dict(
        sender_name="Salon Müller",
        sender_address="no-reply@portal.invalid",
        to=("Jörg Example", "joerg@example.com"),
        subject="Buchung bestätigt: Gesichtsbehandlung, 3. März 2026 10:00",
        text="Grüße",
    )
    short = compose(**common, html="<p>Grüße</p>\n<p>bis bald</p>")
    assert [part["Content-Transfer-Encoding"] for part in short.get_payload()] == ["8bit", "8bit"]

    one_long_line = "<p>" + "Grüße " * 300 + "</p>"  # about 2,000 bytes on one line
    long = compose(**common, html=one_long_line)
    assert long.get_payload()[1]["Content-Transfer-Encoding"] == "quoted-printable"
    raw = bytes(long)
    assert max(len(line.rstrip(b"\r")) for line in raw.split(b"\n")) <= 998

    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == common["subject"]
    assert parsed["From"].addresses[0].display_name == "Salon Müller"
    assert parsed["To"].addresses[0].display_name == "Jörg Example"
    _text, html = parsed.iter_parts()
    assert html.get_content() == one_long_line


def test_senders_use_only_the_address_of_mail_from():
    mail_from = "Portal <no-reply@x.example>"
    assert address_of(mail_from) == "no-reply@x.example"
    assert address_of("no-reply@x.example") == "no-reply@x.example"
    assert business_sender(SimpleNamespace(name="Salon Test"), mail_from) == (
        "Salon Test",
        "no-reply@x.example",
    )
    assert platform_sender(mail_from) == ("Portal", "no-reply@x.example")
    with pytest.raises(ValueError):
        address_of("Portal")


def test_account_mail_of_no_business_comes_from_mail_from_as_configured(app, monkeypatch):
    from portal.accounts import notifications

    written: list[EmailMessage] = []
    monkeypatch.setattr(
        notifications, "enqueue_written", lambda _session, message, **_: written.append(message)
    )
    support = SimpleNamespace(kind="support", name="Sue Support", email="sue@portal.example")
    with app.test_request_context(base_url=BASE_URL):
        notifications.send_account_mail(
            support,
            "Reset your password",
            "accounts/email/reset.txt",
            url=f"{BASE_URL}/support/reset/abc",
            minutes=30,
        )
    [written_message] = written
    message = email.message_from_bytes(bytes(written_message), policy=email.policy.default)
    assert str(message["From"]) == "Portal <no-reply@portal.invalid>"
    assert message["To"] == "Sue Support <sue@portal.example>"
    assert message["Reply-To"] is None
    html = html_of(message)
    assert_only_portal_links(html)
    assert 'href="http://portal.test/support/reset/abc"' in html


def test_staff_account_mail_comes_from_the_business_with_a_button(
    app, client, session, salon, owner
):
    salon.business.contact_email = "hallo@salon.example"
    session.commit()
    page = client.get("/staff/reset")
    response = client.post(
        "/staff/reset", data={"csrf_token": csrf_token(page.text), "email": owner.email}
    )
    assert response.status_code == 200
    [path] = outbox(app)
    message = parse(path)
    assert message["Subject"] == "Reset your password"
    assert message["From"].addresses[0].display_name == "Salon Test"
    assert message["From"].addresses[0].addr_spec == MAIL_FROM_ADDRESS
    assert message["Reply-To"] == "hallo@salon.example"
    assert message["To"] == f"Olivia Owner <{owner.email}>"
    assert message.get_content_type() == "multipart/alternative"
    html = html_of(message)
    assert_dark_mode_ready(html)
    assert_only_portal_links(html)
    assert "Hello Olivia Owner," in html and "Hello Olivia Owner," in text_of(message)
    links = {
        anchor["href"] for anchor in links_of(html).anchors if "/staff/reset/" in anchor["href"]
    }
    [link] = links  # the button and the address under it
    assert link in text_of(message)
    assert ">Choose a new password</a>" in html


# --- HIPAA mode ------------------------------------------------------------------------------


@pytest.fixture
def private_salon(session, salon):
    """The salon in HIPAA mode, with client accounts on."""
    enable_accounts(session, salon.business)
    set_hipaa(session, salon.business)
    return salon


def assert_names_no_client(path, salon) -> None:
    seen = everything_in(path)
    for secret in ("Mia Example", "Mia", "Example", salon.service.name, salon.provider.name):
        assert secret not in seen, secret
    message = parse(path)
    assert message["To"].addresses[0].display_name == ""
    assert "Mia" not in message["Subject"]


def test_client_account_mails_name_no_client_in_hipaa_mode(app, client, session, private_salon):
    profile = {"name": "Mia Example", "phone": "+49 30 1234567", "email": "mia@example.com"}
    password = "copper kettle meadow 71"
    signed_up = secure_post(
        client, "/b/salon/account/signup", **profile, password=password, confirm=password
    )
    assert signed_up.status_code == 200, signed_up.text
    [verify] = outbox(app)
    assert parse(verify)["Subject"] == "Confirm your account at Salon Test"
    assert_names_no_client(verify, private_salon)
    assert "Hello," in text_of(parse(verify)) and "Hello," in html_of(parse(verify))
    assert_only_portal_links(html_of(parse(verify)))

    link = next(
        anchor["href"]
        for anchor in links_of(html_of(parse(verify))).anchors
        if "/account/verify/" in anchor["href"]
    )
    assert client.get(link.removeprefix(BASE_URL), **SECURE).status_code == 302
    # Signing up again with the confirmed address: its owner is told instead.
    again = secure_post(
        client, "/b/salon/account/signup", **profile, password=password, confirm=password
    )
    assert again.status_code == 200
    already = outbox(app)[-1]
    assert parse(already)["Subject"] == "Your account at Salon Test"
    assert_names_no_client(already, private_salon)

    reset = secure_post(client, "/b/salon/account/reset", email="mia@example.com")
    assert reset.status_code == 200
    reset_mail = outbox(app)[-1]
    assert parse(reset_mail)["Subject"] == "Reset your password"
    assert_names_no_client(reset_mail, private_salon)


def test_client_account_mails_greet_by_name_when_hipaa_is_off(app, client, session, salon):
    enable_accounts(session, salon.business)
    password = "copper kettle meadow 71"
    page = client.get("/b/salon/account/signup")
    client.post(
        "/b/salon/account/signup",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Mia Example",
            "phone": "+49 30 1234567",
            "email": "mia@example.com",
            "password": password,
            "confirm": password,
        },
    )
    message = parse(outbox(app)[-1])
    assert message["To"] == "Mia Example <mia@example.com>"
    assert "Hello Mia Example," in text_of(message)
    assert "Hello Mia Example," in html_of(message)


def test_booking_mails_name_no_client_in_any_part_in_hipaa_mode(
    app, client, session, private_salon
):
    salon = private_salon
    path = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    response = secure_post(
        client,
        path,
        name="Mia Example",
        email="mia@example.com",
        phone="+49 30 1234567",
        accept_terms="y",
        accept_policy="y",
    )
    assert response.status_code == 303, response.text
    [sent] = outbox(app)
    assert_names_no_client(sent, salon)
    message = parse(sent)
    html = html_of(message)
    assert_dark_mode_ready(html)
    manage_path = urlsplit(response.headers["Location"]).path
    hrefs = [anchor["href"] for anchor in links_of(html).anchors]
    assert f"{BASE_URL}{manage_path}" in hrefs
    assert f"{BASE_URL}{manage_path}/booking.ics" in hrefs
    assert ">Manage or cancel</a>" in html
    assert next(message.iter_attachments()).get_content_charset() == "utf-8"
