"""Staff sessions: timeouts, real sign-out, password change and reset, invitations, cookies."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import StaffUser, UserSession
from portal.cli import main
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD, csrf_token, sign_in
from tests.test_staff_signin import (
    COOKIE,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    comparable,
    events,
    is_signed_in,
    mails,
    page_token,
    reload,
    save_security,
    sign_out,
)

NEW_PASSWORD = "quiet meadow copper 19"
LINK_GONE = "This link is not valid any more"


# Idle and absolute timeouts.


def test_a_session_survives_29_idle_minutes_and_ends_after_31(client, clock, owner):
    sign_in(client)
    assert client.get("/staff/").status_code == 200
    clock.shift(timedelta(minutes=29))
    assert is_signed_in(client)
    # That visit counted as activity: another 29 minutes are fine.
    clock.shift(timedelta(minutes=29))
    assert is_signed_in(client)
    clock.shift(timedelta(minutes=31))
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")


def test_an_idle_session_stays_ended_when_activity_resumes(client, clock, owner):
    sign_in(client)
    clock.shift(timedelta(minutes=31))
    assert not is_signed_in(client)
    clock.shift(timedelta(seconds=5))
    assert not is_signed_in(client)


def test_the_owner_sets_the_idle_timeout(app, client, clock, staff_member, owner):
    sign_in(client)
    assert save_security(client, idle_timeout_minutes=5).status_code == 302
    staff_client = app.test_client()
    sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD)
    clock.shift(timedelta(minutes=4))
    assert is_signed_in(staff_client)
    clock.shift(timedelta(minutes=5, seconds=30))
    assert not is_signed_in(staff_client)


def test_a_session_ends_12_hours_after_sign_in_even_when_active(client, clock, owner):
    sign_in(client)
    for _ in range(28):  # a visit every 25 minutes, up to 11:40 after sign-in
        clock.shift(timedelta(minutes=25))
        assert is_signed_in(client)
    clock.shift(timedelta(minutes=19))  # 11:59
    assert is_signed_in(client)
    clock.shift(timedelta(minutes=2))  # 12:01
    assert not is_signed_in(client)


# Signing out.


def test_sign_out_ends_the_session(client, session, owner):
    sign_in(client)
    response = sign_out(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert "You are signed out." in client.get("/staff/login").text
    assert not is_signed_in(client)
    session.rollback()
    record = session.scalars(select(UserSession)).one()
    assert record.ended_at == NOW
    (signout,) = events(session, "signout")
    assert signout.actor_id == owner.id


def test_a_copy_of_the_cookie_taken_before_sign_out_does_not_work_after(app, client, owner):
    sign_in(client)
    copied = client.get_cookie(COOKIE).value

    # While signed in, the copy works in another browser (so the test below means something).
    before = app.test_client()
    before.set_cookie(COOKIE, copied)
    assert is_signed_in(before)

    sign_out(client)

    replayed = app.test_client()
    replayed.set_cookie(COOKIE, copied)
    response = replayed.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")
    assert not is_signed_in(before)


def test_sign_out_needs_a_csrf_token(client, owner):
    sign_in(client)
    assert client.post("/staff/logout").status_code == 400
    assert is_signed_in(client)


# Changing the password.


def change_password(client, current: str, new: str, confirm: str | None = None):
    page = client.get("/staff/account/password")
    return client.post(
        "/staff/account/password",
        data={
            "csrf_token": csrf_token(page.text),
            "current": current,
            "password": new,
            "confirm": new if confirm is None else confirm,
        },
    )


def test_a_password_change_ends_the_other_sessions_but_not_this_one(app, session, owner):
    changer, other = app.test_client(), app.test_client()
    sign_in(changer)
    sign_in(other)
    response = change_password(changer, OWNER_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    assert "Your other sessions were signed out." in changer.get("/staff/").text
    assert is_signed_in(changer)
    assert not is_signed_in(other)

    (changed,) = events(session, "password.changed")
    assert changed.actor_id == owner.id
    assert reload(session, owner).password_changed_at == NOW
    fresh = app.test_client()
    assert sign_in(fresh, OWNER_EMAIL, OWNER_PASSWORD).status_code == 422
    assert sign_in(fresh, OWNER_EMAIL, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong current password", NEW_PASSWORD, None, "Your current password was not correct."),
        (OWNER_PASSWORD, "short", None, "Use at least 12 characters."),
        (OWNER_PASSWORD, "password1234", None, "This password is weak"),
        (OWNER_PASSWORD, "owner plum orchard lantern", None, "Do not use your e-mail name"),
        (OWNER_PASSWORD, "salon test plum orchard", None, "Do not use the business name"),
        (
            OWNER_PASSWORD,
            OWNER_PASSWORD,
            None,
            "Choose a password different from your current one.",
        ),
        (OWNER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "The two passwords are not the same."),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    app, client, session, owner, current, new, confirm, message
):
    other = app.test_client()
    sign_in(other)
    sign_in(client)
    response = change_password(client, current, new, confirm)
    assert response.status_code == 422
    assert message in response.text
    assert events(session, "password.changed") == []
    assert is_signed_in(other)


# Password reset by e-mailed link.


def request_reset(client, email: str):
    page = client.get("/staff/reset")
    return client.post("/staff/reset", data={"csrf_token": csrf_token(page.text), "email": email})


def reset_link(app) -> str:
    body = mails(app)[-1].get_body(("plain",)).get_content()
    return re.search(r"http://portal\.test(/staff/reset/\S+)", body).group(1)


def choose_password(client, link: str, password: str, confirm: str | None = None):
    page = client.get(link)
    assert page.status_code == 200, page.text
    return client.post(
        link,
        data={
            "csrf_token": csrf_token(page.text),
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


def test_a_reset_link_is_e_mailed_and_sets_a_new_password(app, client, session, staff_member):
    response = request_reset(client, STAFF_EMAIL)
    assert response.status_code == 200
    assert f"If an account exists for {STAFF_EMAIL}" in response.text
    (message,) = mails(app)
    assert message["To"] == f"Sam Staff <{STAFF_EMAIL}>"
    assert message["Subject"] == "Reset your password"
    assert "within 30 minutes" in message.get_body(("plain",)).get_content()

    link = reset_link(app)
    page = client.get(link)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    response = choose_password(client, link, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert "Your password is set. Sign in with it now." in client.get("/staff/login").text
    # The reset itself signs nobody in.
    assert not is_signed_in(client)
    assert sign_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 422
    assert sign_in(client, STAFF_EMAIL, NEW_PASSWORD).status_code == 302
    assert len(events(session, "password.reset_requested")) == 1
    (reset,) = events(session, "password.reset")
    assert reset.actor_id == staff_member.id


def test_a_reset_link_works_once(app, client, staff_member):
    request_reset(client, STAFF_EMAIL)
    link = reset_link(app)
    assert choose_password(client, link, NEW_PASSWORD).status_code == 302
    again = client.get(link)
    assert again.status_code == 404
    assert LINK_GONE in again.text
    posted = client.post(
        link,
        data={"csrf_token": page_token(client), "password": "x" * 20, "confirm": "x" * 20},
    )
    assert posted.status_code == 404


def test_a_reset_link_expires_after_30_minutes(app, client, clock, staff_member):
    request_reset(client, STAFF_EMAIL)
    link = reset_link(app)
    clock.shift(timedelta(minutes=29))
    assert client.get(link).status_code == 200
    clock.shift(timedelta(minutes=1))
    gone = client.get(link)
    assert gone.status_code == 404
    assert LINK_GONE in gone.text


def test_a_new_reset_link_replaces_the_old_one(app, client, staff_member):
    request_reset(client, STAFF_EMAIL)
    first = reset_link(app)
    request_reset(client, STAFF_EMAIL)
    second = reset_link(app)
    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


def test_a_made_up_reset_link_is_not_found(client, staff_member):
    assert client.get("/staff/reset/" + "A" * 43).status_code == 404
    assert client.get("/staff/reset/" + "A" * 500).status_code == 404


def test_reset_answer_for_an_unknown_address_is_the_same_as_for_a_known_one(
    app, client, session, staff_member
):
    known = request_reset(client, STAFF_EMAIL)
    unknown = request_reset(client, "nobody@salon.example")
    assert known.status_code == unknown.status_code == 200
    assert comparable(known.text, STAFF_EMAIL) == comparable(unknown.text, "nobody@salon.example")
    assert len(mails(app)) == 1


def test_the_reset_password_must_meet_the_rules(app, client, session, staff_member):
    request_reset(client, STAFF_EMAIL)
    link = reset_link(app)
    page = client.get(link)
    assert "at least 12 characters" in page.text
    response = choose_password(client, link, "short")
    assert response.status_code == 422
    assert "Use at least 12 characters." in response.text
    response = choose_password(client, link, "sam plum orchard lantern")
    assert response.status_code == 422
    assert "Do not use your e-mail name in your password." in response.text
    response = choose_password(client, link, NEW_PASSWORD, NEW_PASSWORD + "?")
    assert response.status_code == 422
    assert "The two passwords are not the same." in response.text
    # The refusals did not use up the link.
    assert choose_password(client, link, NEW_PASSWORD).status_code == 302


def test_a_password_reset_ends_every_session(app, client, staff_member):
    signed_in = app.test_client()
    sign_in(signed_in, STAFF_EMAIL, STAFF_PASSWORD)
    request_reset(client, STAFF_EMAIL)
    choose_password(client, reset_link(app), NEW_PASSWORD)
    assert not is_signed_in(signed_in)


# Invitations.


def invite(client, name: str, email: str, role: str = "staff"):
    page = client.get("/staff/team")
    return client.post(
        "/staff/team",
        data={"csrf_token": csrf_token(page.text), "name": name, "email": email, "role": role},
    )


def invite_link(app) -> str:
    body = mails(app)[-1].get_body(("plain",)).get_content()
    return re.search(r"http://portal\.test(/staff/invite/\S+)", body).group(1)


def test_an_invited_staff_member_sets_a_password_and_signs_in(app, client, session, owner):
    sign_in(client)
    response = invite(client, "Nia New", "Nia.New@salon.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/team"
    team = client.get("/staff/team")
    assert "Invitation sent to nia.new@salon.example." in team.text
    assert "invited" in team.text
    (message,) = mails(app)
    assert message["To"] == "Nia New <nia.new@salon.example>"
    assert message["Subject"] == "You are invited to Salon Test"
    (invited,) = events(session, "staff.invited")
    assert invited.actor_id == owner.id
    assert invited.details == {"invited": "nia.new@salon.example", "role": "staff"}

    link = invite_link(app)
    newcomer = app.test_client()
    page = newcomer.get(link)
    assert page.status_code == 200
    assert "Welcome, Nia New" in page.text
    assert "at least 12 characters" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"

    for weak, message in [
        ("short", "Use at least 12 characters."),
        ("nia.new lantern orchard", "Do not use your e-mail name in your password."),
        ("password1234", "This password is weak"),
    ]:
        response = choose_password(newcomer, link, weak)
        assert response.status_code == 422
        assert message in response.text
    assert not is_signed_in(newcomer)

    response = choose_password(newcomer, link, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert newcomer.get(link).status_code == 404
    response = sign_in(newcomer, "nia.new@salon.example", NEW_PASSWORD)
    assert response.headers["Location"] == "/staff/"
    assert "Signed in as nia.new@salon.example (staff)" in newcomer.get("/staff/").text
    assert newcomer.get("/staff/team").status_code == 403


def test_an_address_with_an_account_cannot_be_invited_again(client, owner, staff_member):
    sign_in(client)
    response = invite(client, "Sam Again", STAFF_EMAIL)
    assert response.status_code == 422
    assert f"{STAFF_EMAIL} already has a staff account." in response.text


def test_an_invitation_needs_a_valid_address_and_name(client, session, owner):
    sign_in(client)
    response = invite(client, "", "not-an-address")
    assert response.status_code == 422
    assert "Please enter a name." in response.text
    assert "Please enter a valid e-mail address" in response.text
    assert len(session.scalars(select(StaffUser)).all()) == 1


# The ``portal create-staff`` command.


@pytest.fixture
def cli(app, monkeypatch):
    # FlaskGroup marks the process as run from the CLI; keep that out of other tests.
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")
    runner = app.test_cli_runner()

    def run(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(main, list(args), env=env)

    return run


def test_create_staff_makes_a_user_who_can_sign_in(cli, client, session, salon):
    result = cli(
        "create-staff",
        "--business",
        "salon",
        "--email",
        "Cli.User@salon.example",
        "--name",
        "Cli User",
        env={"PORTAL_NEW_STAFF_PASSWORD": NEW_PASSWORD},
    )
    assert result.exit_code == 0, result.output
    assert "Created staff cli.user@salon.example at Salon Test." in result.output
    assert NEW_PASSWORD not in result.output
    user = session.scalars(select(StaffUser)).one()
    assert user.role == "staff"
    assert user.password_hash.startswith("$argon2id$")
    assert sign_in(client, "cli.user@salon.example", NEW_PASSWORD).headers["Location"] == "/staff/"


def test_create_staff_takes_the_password_as_an_option(cli, session, salon):
    result = cli(
        "create-staff",
        "--business",
        "salon",
        "--email",
        "boss@salon.example",
        "--role",
        "owner",
        "--password",
        NEW_PASSWORD,
    )
    assert result.exit_code == 0, result.output
    assert session.scalars(select(StaffUser)).one().role == "owner"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Use at least 12 characters."),
        ("password1234", "This password is weak"),
        ("weak salon test pass", "Do not use the business name in your password."),
    ],
)
def test_create_staff_refuses_a_password_that_breaks_the_rules(
    cli, session, salon, password, message
):
    result = cli(
        "create-staff",
        "--business",
        "salon",
        "--email",
        "weak@salon.example",
        env={"PORTAL_NEW_STAFF_PASSWORD": password},
    )
    assert result.exit_code != 0
    assert "Password refused:" in result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert session.scalars(select(StaffUser)).all() == []


def test_create_staff_refuses_an_unknown_business_and_a_taken_address(cli, session, owner):
    result = cli(
        "create-staff",
        "--business",
        "nowhere",
        "--email",
        "x@salon.example",
        "--password",
        NEW_PASSWORD,
    )
    assert result.exit_code != 0
    assert "There is no business with the slug 'nowhere'." in result.output
    result = cli(
        "create-staff", "--business", "salon", "--email", OWNER_EMAIL, "--password", NEW_PASSWORD
    )
    assert result.exit_code != 0
    assert f"{OWNER_EMAIL} already has a staff account." in result.output
    session.rollback()
    assert len(session.scalars(select(StaffUser)).all()) == 1


# Tightened rules force a password change.


def test_tightened_rules_force_a_change_before_any_other_page(
    app, client, session, staff_member, owner
):
    sign_in(client)
    save_security(client, password_require_upper=True)
    staff_client = app.test_client()
    response = sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD)
    assert response.status_code == 302
    assert reload(session, staff_member).must_change_password
    for path in ["/staff/", "/staff/account/2fa", "/staff/team", "/staff/audit"]:
        response = staff_client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/staff/account/password", path

    page = staff_client.get("/staff/account/password")
    assert page.status_code == 200
    assert "The owner has tightened the password rules" in page.text
    assert "an uppercase letter" in page.text
    refused = change_password(staff_client, STAFF_PASSWORD, NEW_PASSWORD)
    assert refused.status_code == 422
    assert "Include at least one uppercase letter." in refused.text
    assert (
        change_password(staff_client, STAFF_PASSWORD, "Quiet meadow copper 19").status_code == 302
    )
    assert staff_client.get("/staff/").status_code == 200
    assert not reload(session, staff_member).must_change_password


def test_passwords_that_still_meet_the_rules_are_not_forced_to_change(
    app, client, session, staff_member, owner
):
    # The staff password has 26 characters, the owner's 23.
    sign_in(client)
    save_security(client, password_min_length=24)
    staff_client = app.test_client()
    sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD)
    assert staff_client.get("/staff/").status_code == 200
    assert not reload(session, staff_member).must_change_password
    sign_out(client)
    sign_in(client)
    assert client.get("/staff/").headers["Location"] == "/staff/account/password"


# Cookie flags.


def test_the_session_cookie_is_http_only_and_same_site_lax(client, owner):
    response = sign_in(client)
    cookie = next(
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith(f"{COOKIE}=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie


class TestHttps:
    @pytest.fixture
    def app_env(self, app_env, monkeypatch):
        monkeypatch.setenv("PORTAL_FORCE_HTTPS", "on")
        return app_env

    def test_plain_http_is_redirected_to_https(self, client, owner):
        response = client.get("/staff/login")
        assert response.status_code == 301
        assert response.headers["Location"] == "https://localhost/staff/login"

    def test_the_cookie_is_host_prefixed_and_secure(self, client, owner):
        base = "https://localhost"
        page = client.get("/staff/login", base_url=base)
        response = client.post(
            "/staff/login",
            base_url=base,
            data={
                "csrf_token": csrf_token(page.text),
                "email": OWNER_EMAIL,
                "password": OWNER_PASSWORD,
            },
            headers={"Referer": f"{base}/staff/login"},
        )
        assert response.status_code == 302
        cookies = response.headers.getlist("Set-Cookie")
        (cookie,) = [header for header in cookies if header.startswith("__Host-portal=")]
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/" in cookie
        # __Host- cookies must not name a domain.
        assert "Domain=" not in cookie
        assert not any(header.startswith(f"{COOKIE}=") for header in cookies)
        assert client.get("/staff/", base_url=base).status_code == 200
