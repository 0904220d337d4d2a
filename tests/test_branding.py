"""The business's identity (issue 14): profile page, logo upload, colour, and where it shows."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import os
import re
import zlib

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from portal.audit.models import AuditEvent
from portal.branding import colors
from portal.branding.models import BusinessLogo
from tests.conftest import csrf_token, outbox, path_of
from tests.test_flow import post_booking

ADDRESS = "Lindenstraße 12\n10969 Berlin"
PHONE = "+49 (30) 123 45-67"
CONTACT_EMAIL = "hallo@salon.example"
WEBSITE = "https://www.salon.example/"


# -- images made here, as an owner's files would be --------------------------------------


def png_bytes(size=(300, 120), mode="RGBA") -> bytes:
    image = Image.new(mode, size, (200, 40, 90, 160) if mode == "RGBA" else (200, 40, 90))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    image = Image.linear_gradient("L").convert("RGB").resize((640, 480))
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"  # Make: metadata the stored logo must not carry
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=80)
    return out.getvalue()


def webp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 200), (20, 120, 60)).save(out, format="WEBP")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def bomb_png(width=10_000, height=5_000) -> bytes:
    """A valid 50-megapixel black-and-white PNG, a few kilobytes on disk."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + 1 bit per pixel, all black
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)
#: An image's signature, then a page: a browser that sniffs would run it.
POLYGLOT = b"\x89PNG\r\n\x1a\n<html><body><script>alert(document.cookie)</script></body></html>"


# -- helpers -------------------------------------------------------------------------------


def upload(client, data: bytes, filename="logo.png", token: str | None = None):
    """Post ``data`` as the logo (a body built in memory: a 20 MB one needs no temp file)."""
    if token is None:
        token = csrf_token(client.get("/staff/profile").text)
    fields = {"logo": FileStorage(io.BytesIO(data), filename=filename)}
    if token:
        fields["csrf_token"] = token
    boundary, body = encode_multipart(fields)
    return client.post(
        "/staff/profile/logo",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def save_profile(client, **fields):
    page = client.get("/staff/profile")
    values = {"address": "", "phone": "", "website": "", "accent_color": "", **fields}
    return client.post("/staff/profile", data={"csrf_token": csrf_token(page.text), **values})


def fresh_business(session, salon):
    """The salon as the requests left it (not as this session remembers it)."""
    session.rollback()
    session.expire_all()
    return session.get(type(salon.business), salon.business.id)


def stored_logos(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(BusinessLogo))


@pytest.fixture
def identity(session, salon):
    """The salon with an address, phone, e-mail, website and a green accent."""
    business = salon.business
    business.address = ADDRESS
    business.phone = PHONE
    business.contact_email = CONTACT_EMAIL
    business.website = WEBSITE
    business.accent_color = "#2e6b4e"
    session.commit()
    return salon


# -- the logo ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "filename"),
    [(png_bytes, "logo.png"), (jpeg_bytes, "photo.jpg"), (webp_bytes, "logo.webp")],
)
def test_png_jpeg_and_webp_logos_are_stored_as_a_fresh_png(
    owner_client, session, salon, make, filename
):
    response = upload(owner_client, make(), filename)
    assert response.status_code == 303
    session.rollback()
    [logo] = session.scalars(select(BusinessLogo)).all()
    assert logo.business_id == salon.business.id
    assert logo.media_type == "image/png"
    assert logo.content_hash == hashlib.sha256(logo.data).hexdigest()
    image = Image.open(io.BytesIO(logo.data))
    assert image.format == "PNG"
    assert max(image.size) <= 512
    assert not image.getexif()
    assert b"Camera Maker" not in logo.data


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (SVG, 415, "is not a PNG, JPEG or WebP image we can read"),
        (POLYGLOT, 415, "is not a PNG, JPEG or WebP image we can read"),
        (png_bytes() + b"<html><script>alert(1)</script></html>", 422, "carries other data"),
        (bomb_png(), 413, "more than 4096 × 4096 pixels"),
        (png_bytes((400, 400), "RGB")[:-30], 422, "damaged or incomplete"),
        (b"\x89PNG\r\n\x1a\n" + bytes(20 * 1024 * 1024), 413, "larger than 2 MB"),
        (b"", 422, "Please choose an image file"),
    ],
    ids=["svg", "polyglot", "png-with-html", "bomb", "truncated", "20mb", "empty"],
)
def test_other_files_are_refused_with_a_message_and_nothing_is_stored(
    owner_client, session, data, status, message
):
    response = upload(owner_client, data)
    assert response.status_code == status
    assert message in response.text
    assert stored_logos(session) == 0


def noise_png(side: int) -> bytes:
    """A PNG of random pixels: incompressible, so about 3 bytes a pixel on disk."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def test_a_logo_file_of_over_a_megabyte_is_accepted_and_scaled_down(owner_client, session):
    data = noise_png(640)
    assert 1_000_000 < len(data) < 2 * 1024 * 1024
    assert upload(owner_client, data).status_code == 303
    session.rollback()
    logo = session.scalars(select(BusinessLogo)).one()
    assert (logo.width, logo.height) == (512, 512)


def test_a_logo_file_just_over_2_mb_is_refused(owner_client, session):
    data = noise_png(845)
    assert 2 * 1024 * 1024 < len(data) < 2 * 1024 * 1024 + 64 * 1024
    response = upload(owner_client, data)
    assert response.status_code == 413
    assert "larger than 2 MB" in response.text
    assert stored_logos(session) == 0


def test_a_truncated_jpeg_is_refused(owner_client, session):
    response = upload(owner_client, jpeg_bytes()[:2000], "photo.jpg")
    assert response.status_code == 422
    assert "damaged or incomplete" in response.text
    assert stored_logos(session) == 0


def test_the_logo_is_served_from_its_hash_url_with_long_caching(app, owner_client, session):
    assert upload(owner_client, png_bytes()).status_code == 303
    client = app.test_client()  # a client's browser: nobody signed in
    session.rollback()
    logo = session.scalars(select(BusinessLogo)).one()
    url = f"/b/salon/logo-{logo.content_hash}.png"

    response = client.get(url)
    assert response.status_code == 200
    assert response.data == logo.data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    assert url in client.get("/b/salon/").text

    assert client.get(f"/b/salon/logo-{'0' * 64}.png").status_code == 404


def test_a_logo_url_is_not_served_under_another_business(owner_client, session, rival):
    assert upload(owner_client, png_bytes()).status_code == 303
    session.rollback()
    logo = session.scalars(select(BusinessLogo)).one()
    assert owner_client.get(f"/b/rival/logo-{logo.content_hash}.png").status_code == 404


def test_the_owner_removes_the_logo_and_it_is_audited(owner_client, session):
    assert upload(owner_client, png_bytes()).status_code == 303
    page = owner_client.get("/staff/profile")
    response = owner_client.post(
        "/staff/profile/logo/remove", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 303
    assert stored_logos(session) == 0
    logo_changes = [
        event.details["changes"]["logo"]
        for event in session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "settings.changed")
        )
        if event.details.get("area") == "profile"
    ]
    assert len(logo_changes) == 2
    assert logo_changes[0][0] is None and len(logo_changes[0][1]) == 64
    assert logo_changes[1] == [logo_changes[0][1], None]


def test_an_upload_without_the_form_token_is_refused(owner_client, session):
    response = upload(owner_client, png_bytes(), token="")
    assert response.status_code == 400
    assert stored_logos(session) == 0


def test_staff_who_are_not_the_owner_get_403(staff_client, session):
    assert staff_client.get("/staff/profile").status_code == 403
    response = upload(staff_client, png_bytes(), token="")
    assert response.status_code == 403
    token = csrf_token(staff_client.get("/staff/").text)
    response = staff_client.post("/staff/profile", data={"csrf_token": token, "phone": "123456"})
    assert response.status_code == 403
    assert stored_logos(session) == 0


# -- contact details and colour ----------------------------------------------------------------


def test_the_owner_saves_the_profile_and_each_change_is_audited(owner_client, session, salon):
    response = save_profile(
        owner_client,
        address=" Lindenstraße 12 \n\n10969 Berlin ",
        phone=PHONE,
        website="www.salon.example",
        accent_color="#2E6B4E",
    )
    assert response.status_code == 303
    business = fresh_business(session, salon)
    assert business.address == "Lindenstraße 12\n10969 Berlin"
    assert business.phone == PHONE
    assert business.website == "https://www.salon.example"
    assert business.accent_color == "#2e6b4e"
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.kind == "settings.changed"))
    assert event.details["area"] == "profile"
    assert set(event.details["changes"]) == {"address", "phone", "website", "accent_color"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"phone": "call me maybe"}, "digits, spaces and + ( ) - / only"),
        ({"phone": "12"}, "digits, spaces and + ( ) - / only"),
        ({"website": "javascript:alert(1)"}, "like https://www.example.com"),
        ({"website": "https://exa mple.com"}, "like https://www.example.com"),
        ({"address": "\n".join(f"line {n}" for n in range(7))}, "6 lines and 300 characters"),
        ({"accent_color": "blue"}, "six hexadecimal digits"),
        ({"accent_color": "#12345g"}, "six hexadecimal digits"),
        ({"accent_color": "#1f5fbf;}body{"}, "six hexadecimal digits"),
    ],
)
def test_bad_profile_input_is_refused_with_a_message(owner_client, session, salon, fields, message):
    response = save_profile(owner_client, **fields)
    assert response.status_code == 422
    assert message in response.text
    business = fresh_business(session, salon)
    assert (business.phone, business.website, business.accent_color) == ("", "", "")


def test_a_colour_below_wcag_aa_is_refused_and_a_darker_one_offered(owner_client, session, salon):
    response = save_profile(owner_client, accent_color="#ffcc00")
    assert response.status_code == 422
    assert "#ffcc00 is too light" in response.text
    assert "4.5:1" in response.text
    offered = re.search(r'id="accent_color"[^>]*value="(#[0-9a-f]{6})"', response.text)
    assert offered, "the darker colour is offered in the field"
    suggestion = offered.group(1)
    assert suggestion != "#ffcc00"
    # The offer passes AA on white by WCAG's formula, and is saved as it is.
    assert colors.contrast(suggestion, "#ffffff") >= 4.5
    assert save_profile(owner_client, accent_color=suggestion).status_code == 303
    assert fresh_business(session, salon).accent_color == suggestion


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    # Published WCAG figures: #767676 is the lightest grey passing AA on white.
    [("#000000", "#ffffff", 21.0), ("#767676", "#ffffff", 4.54), ("#777777", "#ffffff", 4.48)],
)
def test_contrast_follows_the_wcag_formula(first, second, ratio):
    assert round(colors.contrast(first, second), 2) == ratio


def test_the_accent_colour_is_set_in_a_nonced_style_block(client, identity):
    page = client.get("/b/salon/")
    nonce = re.search(r"style-src[^;]*'nonce-([^']+)'", page.headers["Content-Security-Policy"])
    assert nonce
    assert f'<style nonce="{nonce.group(1)}">:root {{ --accent: #2e6b4e; }}</style>' in page.text
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]


# -- where the identity shows ------------------------------------------------------------------


def test_the_public_pages_show_the_identity_in_header_and_footer(client, identity):
    for url in ("/b/salon/", "/b/salon/terms", "/b/salon/cancellation-policy"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert '<address class="identity-contact">' in page.text
        assert "Lindenstraße 12<br>10969 Berlin" in page.text
        assert 'href="tel:+49301234567"' in page.text
        assert f'href="mailto:{CONTACT_EMAIL}"' in page.text
        assert f'href="{WEBSITE}"' in page.text
        assert ">www.salon.example<" in page.text


def test_the_manage_page_shows_the_identity(client, identity):
    manage_path = path_of(post_booking(client, identity, accept_terms="y", accept_policy="y"))
    page = client.get(manage_path)
    assert page.status_code == 200
    assert 'href="tel:+49301234567"' in page.text
    assert "Lindenstraße 12<br>10969 Berlin" in page.text


def test_a_business_without_details_shows_no_empty_contact_block(client, salon):
    page = client.get("/b/salon/")
    assert "identity-contact" not in page.text
    assert "<style nonce" not in page.text


def test_the_booking_email_and_calendar_entry_carry_the_identity(app, client, identity):
    post_booking(client, identity, accept_terms="y", accept_policy="y")
    [sent] = outbox(app)
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    assert "Lindenstraße 12, 10969 Berlin" in html
    assert '<a href="tel:+49301234567">+49 (30) 123 45-67</a>' in html
    assert f'<a href="mailto:{CONTACT_EMAIL}">{CONTACT_EMAIL}</a>' in html
    assert f'<a href="{WEBSITE}">www.salon.example</a>' in html
    assert "<img" not in html  # nothing remote in an e-mail: the name stays text
    assert "border-top:4px solid #2e6b4e" in html

    calendar = next(
        part for part in message.walk() if part.get_content_type() == "text/calendar"
    ).get_content()
    unfolded = calendar.replace("\r\n ", "")
    assert "LOCATION:Lindenstraße 12\\, 10969 Berlin" in unfolded
    assert f'ORGANIZER;CN="Salon Test":mailto:{CONTACT_EMAIL}' in unfolded or (
        f"ORGANIZER;CN=Salon Test:mailto:{CONTACT_EMAIL}" in unfolded
    )


def test_a_calendar_entry_names_no_organizer_or_place_when_none_is_set(app, client, salon):
    post_booking(client, salon, accept_terms="y", accept_policy="y")
    [sent] = outbox(app)
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    calendar = next(
        part for part in message.walk() if part.get_content_type() == "text/calendar"
    ).get_content()
    assert "LOCATION" not in calendar
    assert "ORGANIZER" not in calendar


def test_the_services_page_has_local_business_json_ld(client, session, identity, owner_client):
    identity.business.name = 'Salon </script><script>alert("x")</script>'
    session.commit()
    assert upload(owner_client, png_bytes()).status_code == 303
    page = client.get("/b/salon/")
    match = re.search(
        r'<script type="application/ld\+json" nonce="[^"]+">(.*?)</script>', page.text, re.S
    )
    assert match
    assert "</script><script>" not in match.group(1)
    data = json.loads(match.group(1))
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "LocalBusiness"
    assert data["name"] == 'Salon </script><script>alert("x")</script>'
    assert data["address"] == "Lindenstraße 12, 10969 Berlin"
    assert data["telephone"] == PHONE
    assert data["email"] == CONTACT_EMAIL
    assert data["url"] == WEBSITE
    assert re.fullmatch(r"http://portal\.test/b/salon/logo-[0-9a-f]{64}\.png", data["logo"])


def test_the_identity_shows_in_hipaa_mode_too(client, session, identity):
    from tests.test_hipaa import SECURE, set_hipaa

    set_hipaa(session, identity.business)
    page = client.get("/b/salon/", **SECURE)
    assert page.status_code == 200
    assert 'href="tel:+49301234567"' in page.text
    assert "Lindenstraße 12<br>10969 Berlin" in page.text


def test_the_staff_navigation_links_the_profile_for_the_owner_only(owner_client):
    page = owner_client.get("/staff/profile")
    assert page.status_code == 200
    assert 'href="/staff/profile"' in page.text
    assert "Business profile" in page.text
