"""Password rules with their messages, long and Unicode passwords, argon2id hashing."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher

from portal.accounts import service
from portal.accounts.models import SecuritySettings
from portal.accounts.password_rules import PasswordRules, password_problems
from portal.accounts.passwords import hash_password, needs_rehash, normalise, verify_password
from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD, csrf_token, sign_in

EMAIL = "olivia.owner@salon.example"
BUSINESS = "Salon Test"
#: Strong by zxcvbn (score 4), no e-mail or business name, no uppercase or digit.
GOOD = "plum orchard lantern violet"

MIN_LENGTH = "Use at least 12 characters."
UPPER = "Include at least one uppercase letter."
DIGIT = "Include at least one digit."
SPECIAL = "Include at least one special character, such as ! or #."
EMAIL_NAME = "Do not use your e-mail name in your password."
BUSINESS_NAME = "Do not use the business name in your password."
UNICODE = "Ünïcødé pässwörd ✓ 日本語"


def problems(password: str, **rules) -> list[str]:
    return password_problems(password, PasswordRules(**rules), email=EMAIL, business_name=BUSINESS)


def long_password(length: int, seed: int = 7) -> str:
    """A password of ``length`` characters mixing Latin, accented, CJK and symbols."""
    alphabet = "abcdefghijkmnopqrstuvwxyzäöüßéèçñ日本語中文한국어ΩЖ✓★ -_!#"
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(length))


# Every rule, with its message.


def test_a_good_password_breaks_no_rule():
    assert problems(GOOD) == []


def test_default_minimum_length_is_12():
    assert problems("plum orch") == [MIN_LENGTH]
    assert problems("plumorchard") == [MIN_LENGTH]
    assert problems("kq7 vx plumz", min_strength=0) == []


def test_the_owner_chooses_a_longer_minimum():
    assert problems(GOOD, min_length=30) == ["Use at least 30 characters."]
    assert problems(GOOD + " and cedar", min_length=30) == []


def test_the_minimum_length_never_goes_below_the_floor_of_8():
    settings = SimpleNamespace(
        password_min_length=4,
        password_require_upper=False,
        password_require_digit=False,
        password_require_special=False,
        password_min_strength=0,
    )
    rules = PasswordRules.from_settings(settings)
    assert rules.min_length == 8
    assert password_problems("kq7vxpl", rules, email=EMAIL, business_name=BUSINESS) == [
        "Use at least 8 characters."
    ]


def test_default_rules_match_the_design_numbers():
    defaults = SecuritySettings.defaults(1)
    rules = PasswordRules.from_settings(defaults)
    assert rules == PasswordRules(
        min_length=12,
        require_upper=False,
        require_digit=False,
        require_special=False,
        min_strength=3,
    )


def test_uppercase_letter_when_required():
    assert problems(GOOD, require_upper=True) == [UPPER]
    assert problems("Plum orchard lantern violet", require_upper=True) == []
    assert problems("Ünïcødé orchard lantern", require_upper=True) == []


def test_digit_when_required():
    assert problems(GOOD, require_digit=True) == [DIGIT]
    assert problems(GOOD + " 7", require_digit=True) == []


def test_special_character_when_required():
    assert problems("plumorchardlanternviolet", require_special=True) == [SPECIAL]
    assert problems("plumorchard#lanternviolet", require_special=True) == []
    assert problems(GOOD, require_special=True) == []  # a space is not a letter or digit


def test_every_broken_class_rule_is_named_at_once():
    assert problems(
        "plumorchardlanternviolet", require_upper=True, require_digit=True, require_special=True
    ) == [UPPER, DIGIT, SPECIAL]
    assert problems("pl", require_upper=True, require_digit=True, require_special=True) == [
        MIN_LENGTH,
        UPPER,
        DIGIT,
        SPECIAL,
    ]


@pytest.mark.parametrize("weak", ["password1234", "qwertyuiop12", "aaaaaaaaaaaa", "monkey123456"])
def test_weak_passwords_are_refused_by_zxcvbn_with_a_hint(weak):
    (message,) = problems(weak)
    assert message.startswith("This password is ")
    assert "it would be easy to guess" in message
    assert "Try a longer phrase of unrelated words." in message


def test_the_strength_message_names_the_score():
    assert problems("aaaaaaaaaaaa") == [
        "This password is very weak: it would be easy to guess. "
        "Try a longer phrase of unrelated words."
    ]
    assert problems("password1234")[0].startswith("This password is weak:")


def test_the_owner_sets_the_minimum_strength():
    # "correcthorse" scores 2 (fair): fine when 2 is asked for, refused by the default 3.
    assert problems("correcthorse", min_strength=2) == []
    assert problems("correcthorse") == [
        "This password is fair: it would be easy to guess. Try a longer phrase of unrelated words."
    ]
    assert problems("password1234", min_strength=0) == []


@pytest.mark.parametrize(
    "password",
    [
        "my olivia.owner lantern",
        "OLIVIA.OWNER plum orchard",
        "Olivia.Owner-2026-violet",
        "ＯＬＩＶＩＡ．ＯＷＮＥＲ plum orchard",  # fullwidth: the same text after NFKC
    ],
)
def test_the_email_name_is_refused_in_any_case(password):
    assert EMAIL_NAME in problems(password)


@pytest.mark.parametrize(
    "password",
    [
        "salon test plum orchard",
        "SALON TEST plum orchard",
        "my-SalonTest-lantern-violet",
        "salon_test!orchard lantern",
        "ＳＡＬＯＮ ＴＥＳＴ plum orchard",
    ],
)
def test_the_business_name_is_refused_in_any_case_and_spacing(password):
    assert BUSINESS_NAME in problems(password)


def test_words_of_the_names_on_their_own_are_refused_too():
    # Issue 16: a word of 4 or more characters is enough to refuse (see test_signin_edges).
    assert problems("salon lantern plum orchard") == [
        'Do not use "salon" from the business name in your password.'
    ]
    assert problems("olivia lantern plum orchard") == [
        'Do not use "olivia" from your e-mail address in your password.'
    ]


def test_names_are_refused_even_without_strength_checks():
    assert problems("olivia.owner 12345", min_strength=0) == [EMAIL_NAME]
    assert problems("salon test 12345", min_strength=0) == [BUSINESS_NAME]


def test_the_rules_are_described_for_the_form():
    described = PasswordRules(
        min_length=14, require_upper=True, require_digit=True, require_special=True
    ).describe()
    assert described == [
        "at least 14 characters",
        "an uppercase letter",
        "a digit",
        "a special character (not a letter or digit)",
        "strong or better (hard to guess)",
        "not containing your e-mail name, the business name, "
        "or any of their words of 4 or more characters",
    ]


def test_the_business_settings_decide_the_rules(session, salon):
    business = salon.business
    service.check_new_password(session, business, EMAIL, GOOD)
    settings = SecuritySettings.defaults(business.id)
    settings.password_min_length = 16
    settings.password_require_digit = True
    session.add(settings)
    session.commit()
    with pytest.raises(service.PasswordRejected) as rejected:
        service.check_new_password(session, business, EMAIL, "plum orchard")
    assert rejected.value.problems == ["Use at least 16 characters.", DIGIT]
    assert str(rejected.value) == f"Use at least 16 characters. {DIGIT}"


# Long and Unicode passwords.


@pytest.mark.parametrize("length", [128, 500, 1024])
def test_long_passwords_are_accepted(length):
    password = long_password(length)
    assert len(password) == length
    assert problems(password) == []


def test_passwords_longer_than_the_maximum_are_refused_with_a_message():
    assert problems(long_password(1025)) == ["Use at most 1024 characters."]


@pytest.mark.parametrize("length", [128, 500])
def test_long_passwords_verify(length):
    password = long_password(length)
    stored = hash_password(password)
    assert verify_password(stored, password)


def test_long_passwords_are_never_truncated():
    password = long_password(500)
    stored = hash_password(password)
    # Differs only at character 200 (bcrypt, for one, would stop at 72 bytes).
    changed = password[:199] + ("x" if password[199] != "x" else "y") + password[200:]
    assert not verify_password(stored, changed)
    assert not verify_password(stored, password[:499])
    assert not verify_password(stored, password[:128])
    assert not verify_password(stored, password + "x")


def test_unicode_password_is_accepted_and_verifies():
    assert problems(UNICODE) == []
    assert problems(UNICODE, require_upper=True, require_special=True) == []
    stored = hash_password(UNICODE)
    assert verify_password(stored, UNICODE)
    assert not verify_password(stored, "Unicode passwort ✓ 日本語")
    assert not verify_password(stored, UNICODE.replace("語", "语"))


def test_length_counts_characters_not_bytes():
    eleven = "日本語の長いパスワド"  # 10 characters, 30 bytes of UTF-8
    assert len(eleven) == 10
    assert problems(eleven, min_strength=0) == [MIN_LENGTH]
    assert problems(eleven + "です", min_strength=0) == []


def test_emoji_and_symbols_are_ordinary_characters():
    password = "🔑🌵 plum orchard 🚲✓"
    assert problems(password) == []
    assert verify_password(hash_password(password), password)


def test_nfkc_normalisation_makes_equivalent_input_match():
    composed = "caf\u00e9 plum orchard lantern"
    decomposed = "cafe\u0301 plum orchard lantern"
    assert composed != decomposed
    assert normalise(composed) == normalise(decomposed)
    assert verify_password(hash_password(composed), decomposed)
    assert verify_password(hash_password(decomposed), composed)
    # Compatibility forms: fullwidth letters and ligatures are the plain text.
    assert verify_password(hash_password("ｐｌｕｍ ｏｒｃｈａｒｄ"), "plum orchard")
    assert verify_password(hash_password("ﬁne plum orchard"), "fine plum orchard")


def test_nfkc_does_not_fold_case_or_accents():
    stored = hash_password("Café plum orchard")
    assert not verify_password(stored, "café plum orchard")
    assert not verify_password(stored, "Cafe plum orchard")


def test_a_staff_user_signs_in_with_a_long_unicode_password(client, session, salon):
    password = long_password(500, seed=11)
    service.create_staff_user(
        session, salon.business, email="mira@salon.example", password=password
    )
    session.commit()
    assert sign_in(client, "mira@salon.example", password[:-1]).status_code == 422
    response = sign_in(client, "mira@salon.example", password)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


def test_a_staff_user_signs_in_with_the_unicode_example(client, session, salon):
    service.create_staff_user(session, salon.business, email="yuki@salon.example", password=UNICODE)
    session.commit()
    response = sign_in(client, "yuki@salon.example", UNICODE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


# Hashing: argon2id, and rehashing when the parameters change.


def test_hashes_are_argon2id_and_salted():
    first = hash_password(GOOD)
    second = hash_password(GOOD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert GOOD not in first
    assert verify_password(first, GOOD)
    assert verify_password(second, GOOD)
    assert not verify_password(first, GOOD + " ")


def test_hashes_use_the_current_parameters():
    stored = hash_password(GOOD)
    assert not needs_rehash(stored)
    assert needs_rehash(PasswordHasher(time_cost=1).hash(GOOD))


def test_verifying_without_a_hash_is_false_not_an_error():
    assert verify_password(None, GOOD) is False
    assert verify_password("", GOOD) is False
    assert verify_password("not a hash", GOOD) is False


def test_stored_accounts_get_argon2id_hashes(session, owner):
    session.rollback()
    assert owner.password_hash.startswith("$argon2id$")
    assert OWNER_PASSWORD not in owner.password_hash


@pytest.mark.parametrize(
    "old_hasher",
    [PasswordHasher(time_cost=1), PasswordHasher(memory_cost=8192), PasswordHasher(parallelism=1)],
    ids=["time_cost", "memory_cost", "parallelism"],
)
def test_a_hash_with_old_parameters_is_replaced_at_sign_in(client, session, owner, old_hasher):
    old_hash = old_hasher.hash(OWNER_PASSWORD)
    owner.password_hash = old_hash
    session.commit()

    response = sign_in(client, OWNER_EMAIL, OWNER_PASSWORD)
    assert response.status_code == 302

    reload(session, owner)
    assert owner.password_hash != old_hash
    assert owner.password_hash.startswith("$argon2id$")
    assert not needs_rehash(owner.password_hash)
    assert PasswordHasher().verify(owner.password_hash, OWNER_PASSWORD)
    # The new hash works for the next sign-in.
    client.post("/staff/logout", data={"csrf_token": _token(client)})
    assert sign_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302


def test_a_failed_sign_in_does_not_rehash(client, session, owner):
    old_hash = PasswordHasher(time_cost=1).hash(OWNER_PASSWORD)
    owner.password_hash = old_hash
    session.commit()
    assert sign_in(client, OWNER_EMAIL, "wrong password here").status_code == 422
    reload(session, owner)
    assert owner.password_hash == old_hash


def test_a_current_hash_is_kept_at_sign_in(client, session, owner):
    session.rollback()
    current_hash = owner.password_hash
    assert sign_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302
    reload(session, owner)
    assert owner.password_hash == current_hash


def _token(client) -> str:
    return csrf_token(client.get("/staff/").text)


def reload(session, obj) -> None:
    """See what a request committed (the reader may hold no transaction to roll back)."""
    session.rollback()
    session.refresh(obj)


def test_real_instances_hash_at_the_rfc_9106_cost():
    from argon2.profiles import RFC_9106_LOW_MEMORY

    from portal.accounts.passwords import PRODUCTION_PARAMETERS, TESTING_PARAMETERS

    assert PRODUCTION_PARAMETERS == RFC_9106_LOW_MEMORY
    assert (PRODUCTION_PARAMETERS.time_cost, PRODUCTION_PARAMETERS.memory_cost) == (3, 65536)
    assert TESTING_PARAMETERS.type is PRODUCTION_PARAMETERS.type


def test_only_the_testing_environment_hashes_cheaply(tmp_path, monkeypatch):
    from portal import create_app
    from portal.accounts import passwords

    for name in [n for n in __import__("os").environ if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PORTAL_ENV", "development")
    try:
        create_app()
        production_hash = hash_password(GOOD)
        assert "m=65536,t=3,p=4" in production_hash
        monkeypatch.setenv("PORTAL_ENV", "testing")
        create_app()
        assert "m=8,t=1,p=1" in hash_password(GOOD)
        # A hash made at another cost still verifies, and is redone at sign-in.
        assert verify_password(production_hash, GOOD)
        assert needs_rehash(production_hash)
    finally:
        monkeypatch.setenv("PORTAL_ENV", "testing")
        create_app()
    assert passwords.needs_rehash(hash_password(GOOD)) is False
