"""Cross-Origin-Opener-Policy and Cross-Origin-Resource-Policy on every response.

Before: neither header was sent. Now both say ``same-origin``, except that a
public page a business lets other sites frame allows cross-origin embedding
(CORP ``cross-origin``), so a site that isolates itself can still frame it.
"""

from __future__ import annotations

import pytest

from tests.test_embedding import ALLOWED, allow, details_url, policy_of

HTTPS = "https://localhost"
SAME_ORIGIN = ("same-origin", "same-origin")


def isolation(response) -> tuple[str | None, str | None]:
    response.close()  # a static file's body is a file
    return (
        response.headers.get("Cross-Origin-Opener-Policy"),
        response.headers.get("Cross-Origin-Resource-Policy"),
    )


@pytest.mark.parametrize(
    "path", ["/b/salon/", "/staff/login", "/static/portal.css", "/b/nobody/", "/healthz"]
)
def test_every_kind_of_response_is_same_origin_only(client, salon, path):
    assert isolation(client.get(path)) == SAME_ORIGIN
    assert isolation(client.get(path, base_url=HTTPS)) == SAME_ORIGIN


def test_signed_in_staff_pages_are_same_origin_only(owner_client):
    assert isolation(owner_client.get("/staff/")) == SAME_ORIGIN


def test_a_page_no_site_may_frame_stays_same_origin(client, salon):
    assert isolation(client.get(details_url(salon))) == SAME_ORIGIN


def test_a_page_allowed_sites_frame_may_be_embedded_cross_origin(client, session, salon):
    allow(session, salon)
    page = client.get(details_url(salon), base_url=HTTPS)
    assert page.status_code == 200
    assert policy_of(page)["frame-ancestors"] == ALLOWED
    assert isolation(page) == ("same-origin", "cross-origin")
    # Its stylesheet is loaded by the framed page itself, from Portal's own origin.
    assert isolation(client.get("/static/portal.css", base_url=HTTPS)) == SAME_ORIGIN
