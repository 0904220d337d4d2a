"""Platform support accounts lock after failed sign-ins, as staff accounts do.

Before: seven wrong passwords, then the right password and code signed in.
Now the fifth failure (the staff default) locks the account for 15 minutes,
the support user is mailed, and ``portal unlock-support-user`` lifts it.
"""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

from click.testing import CliRunner

from portal import create_app
from portal.accounts import totp
from portal.cli import main
from tests.conftest import NOW, outbox
from tests.test_support import (
    STEP,
    SUPPORT_EMAIL,
    events,
    support_secret,  # noqa: F401 (a fixture)
    support_signs_in,
)

#: What the support sign-in page says to every refusal, locked or not.
REFUSED = "Sign-in failed"


def unlock(*args: str):
    return CliRunner().invoke(main, ["unlock-support-user", *args])


def mails(app) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in outbox(app)]


def test_seven_wrong_passwords_lock_out_the_right_one(app, client, session, support_secret):  # noqa: F811
    for _ in range(7):
        wrong = support_signs_in(client, support_secret, password="not the password at all")
        assert wrong.status_code == 422
    right = support_signs_in(client, support_secret)
    assert right.status_code == 422
    assert REFUSED in right.text
    assert client.get("/support/").status_code == 302  # still signed out

    locked = events(session, "account.locked")
    assert len(locked) == 1
    assert (locked[0].actor_kind, locked[0].actor_label) == ("support", SUPPORT_EMAIL)
    assert locked[0].details["until"] == (NOW + timedelta(minutes=15)).isoformat()
    failures = events(session, "signin.failure")
    assert [e.details.get("failed_attempts") for e in failures[:5]] == [1, 2, 3, 4, 5]
    assert failures[-1].details["reason"] == "locked"

    [notice] = [m for m in mails(app) if m["To"].addresses[0].addr_spec == SUPPORT_EMAIL]
    assert notice["Subject"] == "Your Portal support account was locked"
    text = notice.get_body(("plain",)).get_content()
    assert "unlocks by itself at 2026-03-02 06:15 (UTC)" in text
    assert f"portal unlock-support-user {SUPPORT_EMAIL}" in text


def test_wrong_codes_count_towards_the_lock_too(client, session, support_secret):  # noqa: F811
    for step in range(5):
        wrong_code = totp.code_at(support_secret, STEP - 10 - step)
        assert support_signs_in(client, support_secret, code=wrong_code).status_code == 422
    assert support_signs_in(client, support_secret).status_code == 422
    assert len(events(session, "account.locked")) == 1


def test_the_lock_lifts_by_itself_after_fifteen_minutes(client, clock, support_secret):  # noqa: F811
    for _ in range(5):
        support_signs_in(client, support_secret, password="not the password at all")
    clock.move_to(NOW + timedelta(minutes=14, seconds=59))
    assert support_signs_in(client, support_secret).status_code == 422
    clock.move_to(NOW + timedelta(minutes=15))
    later = totp.time_step(NOW + timedelta(minutes=15))
    signed_in = support_signs_in(client, support_secret, code=totp.code_at(support_secret, later))
    assert signed_in.status_code == 302


def test_the_operator_unlocks_a_support_account_by_command(client, session, support_secret):  # noqa: F811
    for _ in range(5):
        support_signs_in(client, support_secret, password="not the password at all")
    assert support_signs_in(client, support_secret).status_code == 422

    result = unlock(SUPPORT_EMAIL)
    assert result.exit_code == 0, result.output
    assert f"Unlocked support user {SUPPORT_EMAIL}." in result.output
    [unlocked] = events(session, "account.unlocked")
    assert unlocked.actor_label == "portal unlock-support-user"
    assert unlocked.details == {"user": SUPPORT_EMAIL, "was_locked": True}

    signed_in = support_signs_in(client, support_secret)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/support/"


def test_unlocking_an_unknown_support_account_says_so(app, support_secret):  # noqa: F811
    result = unlock("nobody@vendor.example")
    assert result.exit_code == 1
    assert "There is no support account nobody@vendor.example." in result.output


def test_a_secret_no_key_opens_says_so_is_audited_and_never_locks(
    session,
    support_secret,  # noqa: F811 (the fixture)
    monkeypatch,
):
    monkeypatch.setenv("PORTAL_ENCRYPTION_KEYS", "a key the secret was never sealed with")
    client = create_app().test_client()
    for _ in range(6):
        refused = support_signs_in(client, support_secret)
        assert refused.status_code == 409
        assert "Your two-factor set-up can no longer be read" in refused.text
        assert "PORTAL_ENCRYPTION_KEYS" in refused.text
    assert client.get("/support/").status_code == 302  # not signed in
    assert len(events(session, "2fa.unreadable")) == 6
    assert events(session, "account.locked") == []
    assert events(session, "signin.failure") == []
