"""Sign-in that explains itself (issue 16, finding 7).

The unlock path matches the lock mode, enrolling in 2FA never leads into a
refusal or a lock, the default rules refuse guessable passwords and the words
of the business and e-mail names, idle sign-out and forced enrolment say why,
and every security notice carries the link it mentions.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.accounts import totp
from portal.accounts.models import SecuritySettings
from portal.accounts.password_rules import PasswordRules, password_problems
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD, csrf_token, sign_in
from tests.test_client_accounts import enable_accounts
from tests.test_client_accounts import sign_in as client_sign_in
from tests.test_hipaa import SECURE, set_hipaa
from tests.test_staff_2fa import STEP, enrol, enter_code, password_step, reset_2fa, shown_key
from tests.test_staff_signin import (
    STAFF_EMAIL,
    STAFF_PASSWORD,
    WRONG,
    events,
    is_signed_in,
    mails,
    reload,
    set_failures,
    sign_out,
)

NEW_PASSWORD = "granite willow sparrow 93"
UNLOCK_BY_OWNER = "only when the business owner unlocks it on the Security page"


def settings(session, business, **values) -> None:
    session.rollback()
    row = session.get(SecuritySettings, business.id)
    if row is None:
        row = SecuritySettings.defaults(business.id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    session.commit()


def text_and_html(message) -> tuple[str, str]:
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


@pytest.fixture
def owner_unlocks(session, salon):
    """The salon locks accounts until an owner unlocks them."""
    settings(session, salon.business, lockout_mode="until_unlocked")


# --- the unlock path matches the lock mode ---------------------------------------------


def test_in_owner_unlock_mode_the_lock_mail_names_the_owner_and_offers_no_reset(
    app, client, session, staff_member, owner_unlocks
):
    set_failures(session, staff_member, 4)
    assert sign_in(client, STAFF_EMAIL, WRONG).status_code == 422
    assert reload(session, staff_member).waits_for_unlock
    (message,) = mails(app)
    text, html = text_and_html(message)
    for part in (text, html):
        assert "It stays locked until the business owner unlocks it." in part
        assert "A new password does not unlock it." in part
        assert "/staff/reset" not in part
        assert "choose a new one" not in part.lower()
    # How: the owner's Security page, linked in both parts.
    assert "http://portal.test/staff/security" in text
    assert "http://portal.test/staff/security" in hrefs(html)


def test_a_timed_lock_mail_still_offers_the_reset_link_in_both_parts(
    app, client, session, staff_member
):
    set_failures(session, staff_member, 4)
    sign_in(client, STAFF_EMAIL, WRONG)
    (message,) = mails(app)
    text, html = text_and_html(message)
    assert "It unlocks by itself at" in text
    assert "http://portal.test/staff/reset" in text
    assert "http://portal.test/staff/reset" in hrefs(html)


def test_the_staff_sign_in_error_does_not_send_a_locked_user_to_a_reset(
    app, client, session, staff_member, owner_unlocks
):
    set_failures(session, staff_member, 4)
    sign_in(client, STAFF_EMAIL, WRONG)
    locked = sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    unknown = sign_in(client, "nobody@salon.example", STAFF_PASSWORD)
    assert locked.status_code == unknown.status_code == 422
    for response in (locked, unknown):  # one message: it tells nothing about the account
        assert "reset your password" not in response.text
        assert UNLOCK_BY_OWNER in response.text
        assert "a new password does not unlock it" in response.text


def test_the_client_sign_in_error_in_owner_unlock_mode_says_to_contact_the_business(
    app, client, session, salon, owner_unlocks
):
    enable_accounts(session, salon.business)
    response = client_sign_in(client, "mia@example.com", WRONG)
    assert response.status_code == 422
    assert "reset your password" not in response.text
    assert "stays locked until Salon Test unlocks it" in response.text

    settings(session, salon.business, lockout_mode="timed")
    assert "Try again later or reset your password." in client_sign_in(client).text


def request_reset(client, email: str = STAFF_EMAIL):
    page = client.get("/staff/reset")
    return client.post("/staff/reset", data={"csrf_token": csrf_token(page.text), "email": email})


def test_a_reset_in_owner_unlock_mode_does_not_pretend_to_help(
    app, client, session, staff_member, owner_unlocks
):
    set_failures(session, staff_member, 4)
    sign_in(client, STAFF_EMAIL, WRONG)
    assert request_reset(client).status_code == 200
    reset_mail = mails(app)[-1]
    assert reset_mail["Subject"] == "Reset your password"
    text, html = text_and_html(reset_mail)
    for part in (text, html):
        assert "A new password does not unlock it" in part
    (path,) = re.findall(r"http://portal\.test(/staff/reset/\S+)", text)

    page = client.get(path)
    assert "Your account is locked until the business owner unlocks it" in page.text
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(page.text),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    login = client.get(response.headers["Location"]).text
    assert "Sign in with it now" not in login
    assert "your account stays locked until the business owner unlocks it" in login
    assert sign_in(client, STAFF_EMAIL, NEW_PASSWORD).status_code == 422


def test_a_reset_of_an_unlocked_account_still_says_sign_in_now(app, client, session, staff_member):
    request_reset(client)
    text, _ = text_and_html(mails(app)[-1])
    assert "does not unlock" not in text
    (path,) = re.findall(r"http://portal\.test(/staff/reset/\S+)", text)
    page = client.get(path)
    assert "locked" not in page.text
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(page.text),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert (
        "Your password is set. Sign in with it now."
        in client.get(response.headers["Location"]).text
    )


# --- enrolment never leads into a refusal or a lock ------------------------------------


def test_the_code_still_on_screen_after_enrolling_signs_in_and_never_locks(
    app, client, session, salon, staff_member
):
    settings(session, salon.business, lockout_attempts=3)
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    page = client.get("/staff/account/2fa")
    secret = shown_key(page.text)
    code = totp.code_at(secret, STEP)
    enrolled = client.post(
        "/staff/account/2fa", data={"csrf_token": csrf_token(page.text), "code": code}
    )
    assert "Two-factor sign-in is on" in enrolled.text
    assert is_signed_in(client)  # the enrolment's sign-in goes on: no second code asked

    # Signing in again at once: the code still on screen is the sign-in's code.
    sign_out(client)
    password_step(client)
    response = enter_code(client, code)
    assert response.status_code == 302
    assert is_signed_in(client)

    # Once more within the same 30 s: that code is used up now, but typing it again
    # is no guess at the code, so three tries do not lock a 3-attempt account.
    sign_out(client)
    password_step(client)
    for _ in range(3):
        again = enter_code(client, code)
        assert again.status_code == 422
        assert "That code was used already. Wait for the next code in your app" in again.text
    assert not reload(session, staff_member).is_locked(NOW)
    assert staff_member.failed_attempts == 0
    assert events(session, "account.locked") == []
    assert enter_code(client, totp.code_at(secret, STEP + 1)).status_code == 302


def test_wrong_codes_after_enrolling_still_lock(app, client, session, salon, staff_member):
    settings(session, salon.business, lockout_attempts=3)
    secret, _codes = enrol(session, app, staff_member, minutes_ago=0)
    valid = {totp.code_at(secret, STEP + offset) for offset in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
    password_step(client)
    for _ in range(3):
        enter_code(client, wrong)
    assert reload(session, staff_member).is_locked(NOW)


# --- default strength and the words of the names ---------------------------------------


def default_problems(password: str, email: str, business_name: str) -> list[str]:
    rules = PasswordRules.from_settings(SecuritySettings.defaults(1))
    return password_problems(password, rules, email=email, business_name=business_name)


@pytest.mark.parametrize("password", ["Password1234!!", "Aaaaaaaaaaaaa1!"])
def test_the_default_strength_refuses_guessable_passwords(password):
    (problem,) = default_problems(password, "anna@praxis.example", "Praxis Lindenblatt")
    assert problem.startswith("This password is fair: it would be easy to guess.")


@pytest.mark.parametrize(
    ("password", "word"),
    [
        ("Lindenblatt#2026xyzQ", "lindenblatt"),
        ("LINDENBLATT plum orchard", "lindenblatt"),
        ("quiet PRAXIS meadow 7", "praxis"),
    ],
)
def test_every_word_of_the_business_name_is_refused(password, word):
    problems = default_problems(password, "anna@elsewhere.example", "Praxis Lindenblatt")
    assert problems == [f'Do not use "{word}" from the business name in your password.']


@pytest.mark.parametrize(
    ("password", "word"),
    [("Weber-granite-willow", "weber"), ("granite willow ANNA 93", "anna")],
)
def test_every_word_of_the_email_name_is_refused(password, word):
    problems = default_problems(password, "anna.weber@example.com", "Salon Test")
    assert problems == [f'Do not use "{word}" from your e-mail address in your password.']


def test_words_shorter_than_four_characters_are_allowed():
    assert default_problems("granite willow sea jo 93", "jo.li@example.com", "Am See") == []


def test_the_words_go_to_zxcvbn_as_user_input():
    # Not the word itself but a variant of it: zxcvbn finds it among the user's words.
    password = "L1ndenbl4tt-2026"
    assert default_problems(password, "anna@elsewhere.example", "Other Place") == []
    (problem,) = default_problems(password, "anna@elsewhere.example", "Praxis Lindenblatt")
    assert problem.startswith("This password is ")


def test_the_hint_promises_what_the_check_does(client, session, salon, owner):
    rules = PasswordRules.from_settings(SecuritySettings.defaults(1)).describe()
    assert rules[-2:] == [
        "strong or better (hard to guess)",
        "not containing your e-mail name, the business name, "
        "or any of their words of 4 or more characters",
    ]
    sign_in(client)
    page = client.get("/staff/account/password")
    assert "or any of their words of 4 or more characters" in page.text
    response = client.post(
        "/staff/account/password",
        data={
            "csrf_token": csrf_token(page.text),
            "current": OWNER_PASSWORD,
            "password": "Salon-granite-willow-93",
            "confirm": "Salon-granite-willow-93",
        },
    )
    assert response.status_code == 422
    assert "Do not use &#34;salon&#34; from the business name in your password." in response.text


# --- idle sign-out and forced enrolment say why -----------------------------------------


def test_an_idle_sign_out_says_why_once(client, session, clock, owner):
    sign_in(client)
    clock.move_to(NOW + timedelta(minutes=31))
    response = client.get("/staff/bookings")
    assert response.status_code == 302
    login = client.get(response.headers["Location"])
    assert "You were signed out after 30 minutes without activity." in login.text
    idle = [e for e in events(session, "signout") if e.details.get("reason") == "idle"]
    (idle,) = idle
    assert idle.actor_id == owner.id
    assert idle.details["idle_minutes"] == 30
    # Said once: the next page does not repeat it.
    assert "without activity" not in client.get("/staff/login").text


def test_a_sign_out_by_hand_does_not_claim_idleness(client, clock, owner):
    sign_in(client)
    sign_out(client)
    clock.move_to(NOW + timedelta(minutes=31))
    assert "without activity" not in client.get("/staff/login").text


def test_forced_enrolment_in_hipaa_mode_says_why(client, session, salon, owner):
    sign_in(client)
    set_hipaa(session, salon.business)
    response = client.get("/staff/", **SECURE)
    assert response.headers["Location"] == "/staff/account/2fa"
    page = client.get("/staff/account/2fa", **SECURE)
    assert "Your business requires two-factor sign-in. Set it up to continue." in page.text


def test_voluntary_enrolment_claims_no_requirement(client, owner):
    sign_in(client)
    assert "Your business requires" not in client.get("/staff/account/2fa").text


# --- every security notice carries the link it mentions ---------------------------------


def test_the_hipaa_sign_in_notice_links_to_the_password_reset(app, client, session, salon, owner):
    set_hipaa(session, salon.business)
    page = client.get("/staff/login", **SECURE)
    client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(page.text),
            "email": OWNER_EMAIL,
            "password": OWNER_PASSWORD,
        },
        headers={"Referer": "https://localhost/staff/login"},
        **SECURE,
    )
    (notice,) = [m for m in mails(app) if m["Subject"].startswith("New sign-in")]
    text, html = text_and_html(notice)
    assert "reset your password now" in text
    assert "http://portal.test/staff/reset" in text
    assert "http://portal.test/staff/reset" in hrefs(html)


def test_the_2fa_reset_notice_links_to_the_sign_in(app, client, session, owner, staff_member):
    enrol(session, app, staff_member)
    sign_in(client)
    assert reset_2fa(client, staff_member, OWNER_PASSWORD).status_code == 303
    (message,) = [m for m in mails(app) if m["Subject"] == "Your two-factor sign-in was reset"]
    text, html = text_and_html(message)
    assert "Sign in with your password" in text
    assert "http://portal.test/staff/login" in text
    assert "http://portal.test/staff/login" in hrefs(html)


def test_a_client_lock_mail_in_owner_unlock_mode_names_the_business(
    app, client, session, salon, owner_unlocks
):
    from tests.test_client_accounts import link_in, sign_up

    enable_accounts(session, salon.business)
    salon.business.contact_email = "hello@salon.example"
    session.commit()
    sign_up(client)
    client.get(link_in(mails(app)[-1]))
    for _ in range(5):
        client_sign_in(client, "mia@example.com", WRONG)
    message = mails(app)[-1]
    assert message["Subject"] == "Your account at Salon Test was locked"
    text, html = text_and_html(message)
    for part in (text, html):
        assert "It stays locked until Salon Test unlocks it." in part
        assert "hello@salon.example" in part
        assert "/reset" not in part


def test_a_client_reset_in_owner_unlock_mode_says_the_business_must_unlock(
    app, client, session, salon, owner_unlocks
):
    from tests.test_client_accounts import (
        NEW_PASSWORD as CLIENT_NEW_PASSWORD,
    )
    from tests.test_client_accounts import (
        link_in,
        request_reset,
        set_new_password,
        sign_up,
    )

    enable_accounts(session, salon.business)
    sign_up(client)
    client.get(link_in(mails(app)[-1]))
    for _ in range(5):
        client_sign_in(client, "mia@example.com", WRONG)
    request_reset(client)
    reset_mail = mails(app)[-1]
    assert reset_mail["Subject"] == "Reset your password"
    for part in text_and_html(reset_mail):
        assert "A new password does not unlock it" in part
    link = link_in(reset_mail)
    page = client.get(link)
    assert "Your account is locked until Salon Test unlocks it." in page.text
    done = set_new_password(client, link)
    assert done.headers["Location"] == "/b/salon/account/login"
    login = client.get(done.headers["Location"]).text
    assert "Sign in with it now" not in login
    assert "your account stays locked until the business owner unlocks it" in login
    assert client_sign_in(client, "mia@example.com", CLIENT_NEW_PASSWORD).status_code == 422


def test_a_client_idle_sign_out_says_why(app, client, session, salon, clock):
    from tests.test_client_accounts import link_in, sign_up

    enable_accounts(session, salon.business)
    sign_up(client)
    client.get(link_in(mails(app)[-1]))
    assert client_sign_in(client).status_code == 302
    clock.move_to(NOW + timedelta(minutes=31))
    response = client.get("/b/salon/account/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "You were signed out after 30 minutes without activity." in page.text
