"""Key rotation: old keys still open, ``portal rotate-keys`` moves everything to the newest.

Found 1's last case: after PORTAL_ENCRYPTION_KEY (or the secret key it defaults to)
changed, every 2FA sign-in answered 500. Now a second factor that no configured key
opens gets a page saying who can help, and an audit event.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from portal import create_app
from portal.accounts import service, totp
from portal.accounts.service import AccountError
from portal.audit.service import Origin
from portal.booking.models import Booking
from portal.booking.service import open_manage_token
from portal.cli import main
from portal.hipaa.service import set_hipaa_mode
from portal.secret_box import SecretBox, encryption_keys, key_material
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD, csrf_token, sign_in
from tests.factories import CONSENTS, DETAILS
from tests.test_staff_2fa import enter_code, password_step
from tests.test_staff_signin import STAFF_EMAIL, events, is_signed_in, mails, reload

OLD = "the old encryption key material"
NEW = "the new encryption key material"
STEP = totp.time_step(NOW)

#: What the person whose second factor no key opens reads.
UNREADABLE = "Your two-factor set-up can no longer be read"
ASK_OWNER = "Ask your owner to reset two-factor sign-in for you on the team page."
OWNER_HELP = "run the command portal reset-2fa with your e-mail address"


@pytest.fixture
def app_env(app_env, monkeypatch):
    """The app under test starts with OLD as its only encryption key."""
    monkeypatch.setenv("PORTAL_ENCRYPTION_KEYS", OLD)
    return {**app_env, "PORTAL_ENCRYPTION_KEYS": OLD}


def restart(monkeypatch, keys: str | None, secret_key: str | None = None):
    """The app as it runs after the operator changed its keys and restarted it.

    The ``portal`` command, run afterwards, sees the same environment.
    """
    if keys is None:
        monkeypatch.delenv("PORTAL_ENCRYPTION_KEYS", raising=False)
    else:
        monkeypatch.setenv("PORTAL_ENCRYPTION_KEYS", keys)
    if secret_key is not None:
        monkeypatch.setenv("PORTAL_SECRET_KEY", secret_key)
    return create_app()


def enrol(session, user, keys: list[str]) -> str:
    """Turn 2FA on for ``user`` a minute before NOW, sealed with ``keys``; return the secret."""
    box = totp.SecretBox(keys)
    secret = service.start_enrolment(session, user, box)
    then = NOW - timedelta(minutes=1)
    service.activate_2fa(
        session, user, totp.code_at(secret, totp.time_step(then)), then, box, Origin()
    )
    session.commit()
    return secret


def portal(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def book(client, salon, start: str = "2026-03-03T09:00Z") -> None:
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start={start}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS})
    assert response.status_code == 303


def manage_link(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://portal\.test(/b/salon/manage/[\w-]+)", text)
    assert match, text
    return match.group(1)


# -- which keys ------------------------------------------------------------------------------


def test_the_keys_are_the_list_newest_first_else_the_encryption_key_else_the_secret_key():
    assert encryption_keys({"SECRET_KEY": "s"}) == ["s"]
    assert encryption_keys({"SECRET_KEY": "s", "ENCRYPTION_KEY": "e"}) == ["e"]
    configured = {"SECRET_KEY": "s", "ENCRYPTION_KEY": "e", "ENCRYPTION_KEYS": " n , o ,"}
    assert encryption_keys(configured) == ["n", "o"]
    assert key_material(configured) == "n"


def test_the_newest_key_seals_and_every_listed_key_opens():
    purpose = b"a test purpose"
    sealed_old = SecretBox(OLD, purpose).seal("secret")
    both = SecretBox([NEW, OLD], purpose)
    assert both.open(sealed_old) == "secret"
    assert SecretBox(NEW, purpose).open(both.seal("secret")) == "secret"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(OLD, purpose).open(both.seal("secret"))
    assert SecretBox(NEW, purpose).open(both.reseal(sealed_old)) == "secret"


# -- a second factor no key opens --------------------------------------------------------------


def test_a_changed_encryption_key_gives_a_page_asking_the_owner_to_reset_not_a_500(
    session, staff_member, monkeypatch
):
    secret = enrol(session, staff_member, [OLD])
    app = restart(monkeypatch, NEW)  # the old key was replaced, not kept behind the new one
    client = app.test_client()
    password_step(client)
    response = enter_code(client, totp.code_at(secret, STEP))
    assert response.status_code == 409
    assert UNREADABLE in response.text
    assert ASK_OWNER in response.text
    assert not is_signed_in(client)
    # The pending sign-in is over: the code page sends back to the password.
    assert client.get("/staff/2fa").headers["Location"] == "/staff/login"
    (event,) = events(session, "2fa.unreadable")
    assert (event.actor_label, event.business_id) == (STAFF_EMAIL, staff_member.business_id)


def test_a_changed_secret_key_without_an_encryption_key_gives_the_same_page(
    session, owner, monkeypatch
):
    first = restart(monkeypatch, None, secret_key="the first secret key")
    secret = enrol(session, owner, encryption_keys(first.config))
    client = restart(monkeypatch, None, secret_key="a brand new secret key").test_client()
    password_step(client, OWNER_EMAIL, OWNER_PASSWORD)
    response = enter_code(client, totp.code_at(secret, STEP))
    assert response.status_code == 409
    assert UNREADABLE in response.text
    assert OWNER_HELP in response.text  # an owner has nobody above to ask
    assert len(events(session, "2fa.unreadable")) == 1

    # The operator resets the owner's 2FA; the password alone then signs in.
    assert "Two-factor sign-in is off for owner@salon.example" in portal("reset-2fa", OWNER_EMAIL)
    assert not reload(session, owner).has_2fa
    (reset,) = events(session, "2fa.reset")
    assert (reset.actor_label, reset.details["user"]) == ("portal reset-2fa", OWNER_EMAIL)
    assert sign_in(client).headers["Location"] == "/staff/"


def test_a_pending_enrolment_under_a_removed_key_starts_afresh(session, owner, monkeypatch):
    stale = service.start_enrolment(session, owner, totp.SecretBox([OLD]))
    session.commit()
    client = restart(monkeypatch, NEW).test_client()
    assert sign_in(client).status_code == 302
    page = client.get("/staff/account/2fa")
    assert page.status_code == 200
    shown = re.search(r'id="totp-secret">([^<]+)<', page.text).group(1).replace(" ", "")
    assert shown != stale
    assert totp.SecretBox([NEW]).open(reload(session, owner).totp_secret_encrypted) == shown


# -- rotating ------------------------------------------------------------------------------


def test_with_the_old_key_second_a_2fa_sign_in_still_works(session, staff_member, monkeypatch):
    secret = enrol(session, staff_member, [OLD])
    client = restart(monkeypatch, f"{NEW},{OLD}").test_client()
    password_step(client)
    assert enter_code(client, totp.code_at(secret, STEP)).headers["Location"] == "/staff/"
    assert is_signed_in(client)


def test_after_rotate_keys_the_old_key_can_be_removed_and_2fa_sign_in_works(
    app, session, salon, staff_member, monkeypatch
):
    secret = enrol(session, staff_member, [OLD])
    book(app.test_client(), salon)  # a manage token and queued e-mails, sealed with OLD

    restart(monkeypatch, f"{NEW},{OLD}")
    said = portal("rotate-keys")
    assert "Re-encrypted 1 staff TOTP secrets." in said
    assert "Re-encrypted 1 booking manage tokens." in said
    assert re.search(r"Re-encrypted [1-9][0-9]* outbox payloads\.", said)
    (rotated,) = events(session, "keys.rotated")
    assert rotated.business_id is None
    assert rotated.details["resealed"]["staff TOTP secrets"] == 1

    stored = reload(session, staff_member).totp_secret_encrypted
    assert totp.SecretBox([NEW]).open(stored) == secret
    with pytest.raises(ValueError):
        totp.SecretBox([OLD]).open(stored)

    client = restart(monkeypatch, NEW).test_client()  # the old key is gone
    password_step(client)
    assert enter_code(client, totp.code_at(secret, STEP)).headers["Location"] == "/staff/"
    assert events(session, "2fa.unreadable") == []
    # The audit chain was re-sealed with the new key: it verifies without the old one.
    verified = portal("audit", "verify")
    assert "chain intact" in verified
    assert "broken" not in verified


def test_queued_e_mails_still_send_after_rotation_and_removing_the_old_key(
    app, session, salon, monkeypatch
):
    book(app.test_client(), salon)
    restart(monkeypatch, f"{NEW},{OLD}")
    portal("rotate-keys")
    app = restart(monkeypatch, NEW)

    (confirmation,) = mails(app)
    assert confirmation["To"].addresses[0].addr_spec == DETAILS["email"]
    assert confirmation["Subject"] == "Booking confirmed: Haircut, 03 Mar 2026 10:00"
    link = manage_link(confirmation)
    assert app.test_client().get(link).status_code == 200
    # The worker can still put the link into reminders.
    session.rollback()
    (booking,) = session.scalars(select(Booking)).all()
    with app.app_context():
        assert open_manage_token(booking) == link.rsplit("/", 1)[1]


def test_rotate_keys_leaves_what_no_key_opens_and_says_so(session, staff_member, monkeypatch):
    enrol(session, staff_member, ["a key nobody configured"])
    restart(monkeypatch, f"{NEW},{OLD}")
    said = portal("rotate-keys")
    assert "Re-encrypted 0 staff TOTP secrets." in said
    assert "Warning: no configured key opens 1 staff TOTP secrets; left as they were." in said
    stored = reload(session, staff_member).totp_secret_encrypted
    assert totp.SecretBox(["a key nobody configured"]).open(stored)


def test_rotate_keys_after_the_old_key_was_removed_changes_nothing_and_says_why(
    session, staff_member, monkeypatch
):
    enrol(session, staff_member, [OLD])  # its audit events are sealed with OLD too
    restart(monkeypatch, NEW)
    result = CliRunner().invoke(main, ["rotate-keys"])
    assert result.exit_code == 1
    assert "Nothing was changed: the audit trail does not verify" in result.output
    assert "put it back after the new one in PORTAL_ENCRYPTION_KEYS" in result.output
    assert totp.SecretBox([OLD]).open(reload(session, staff_member).totp_secret_encrypted)
    assert events(session, "keys.rotated") == []


def test_switching_hipaa_mode_with_an_unreadable_set_up_is_refused_with_the_way_out(
    session, owner, clock
):
    secret = enrol(session, owner, [OLD])
    with pytest.raises(AccountError, match="run the command portal reset-2fa"):
        set_hipaa_mode(
            session,
            owner,
            True,
            OWNER_PASSWORD,
            totp.code_at(secret, STEP),
            NOW,
            totp.SecretBox([NEW]),
            Origin(),
        )
