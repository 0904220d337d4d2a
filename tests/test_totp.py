"""TOTP codes (RFC 6238), the encrypted secret box and recovery codes, without Flask."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from portal.accounts import totp

#: The RFC 6238 Appendix B SHA-1 seed, "12345678901234567890", in base32.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()

#: Appendix B's SHA-1 column; our codes have 6 digits, which are the last 6 of the 8.
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
STEP = totp.time_step(NOW)


def at(unix_time: int) -> datetime:
    return datetime.fromtimestamp(unix_time, UTC)


def test_the_rfc_secret_is_the_documented_base32_text():
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(("unix_time", "rfc_code"), RFC_VECTORS)
def test_rfc_6238_sha1_vectors_are_generated(unix_time, rfc_code):
    assert totp.code_at(RFC_SECRET, unix_time // 30) == rfc_code[-6:]


@pytest.mark.parametrize(("unix_time", "rfc_code"), RFC_VECTORS)
def test_rfc_6238_sha1_vectors_are_accepted_at_their_time(unix_time, rfc_code):
    step = totp.matching_step(RFC_SECRET, rfc_code[-6:], at(unix_time), last_step=0)
    assert step == unix_time // 30


@pytest.mark.parametrize(("unix_time", "rfc_code"), RFC_VECTORS)
def test_rfc_6238_codes_are_refused_far_from_their_time(unix_time, rfc_code):
    later = at(unix_time) + timedelta(minutes=5)
    assert totp.matching_step(RFC_SECRET, rfc_code[-6:], later, last_step=0) is None


def test_codes_are_six_digits_with_leading_zeros_kept():
    assert totp.code_at(RFC_SECRET, 1234567890 // 30) == "005924"
    assert totp.code_at(RFC_SECRET, 1111111109 // 30) == "081804"


def test_a_time_step_is_thirty_seconds():
    assert totp.time_step(at(59)) == 1
    assert totp.time_step(at(60)) == 2
    assert totp.time_step(at(89)) == 2
    assert totp.time_step(at(90)) == 3


def codes_around(secret: str, step: int) -> dict[int, str]:
    codes = {offset: totp.code_at(secret, step + offset) for offset in range(-3, 4)}
    # The window tests mean something only if the neighbouring codes differ.
    assert len(set(codes.values())) == len(codes)
    return codes


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_codes_of_the_current_and_neighbouring_steps_are_accepted(offset):
    code = codes_around(RFC_SECRET, STEP)[offset]
    assert totp.matching_step(RFC_SECRET, code, NOW, last_step=0) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_codes_two_or_more_steps_away_are_refused(offset):
    code = codes_around(RFC_SECRET, STEP)[offset]
    assert totp.matching_step(RFC_SECRET, code, NOW, last_step=0) is None


def test_the_window_moves_with_the_clock_inside_a_step():
    codes = codes_around(RFC_SECRET, STEP)
    last_second = NOW + timedelta(seconds=29)
    assert totp.matching_step(RFC_SECRET, codes[-1], last_second, 0) == STEP - 1
    assert totp.matching_step(RFC_SECRET, codes[1], last_second, 0) == STEP + 1
    next_step = NOW + timedelta(seconds=30)
    assert totp.matching_step(RFC_SECRET, codes[-1], next_step, 0) is None
    assert totp.matching_step(RFC_SECRET, codes[2], next_step, 0) == STEP + 2


def test_a_code_accepted_once_is_refused_the_second_time():
    code = totp.code_at(RFC_SECRET, STEP)
    step = totp.matching_step(RFC_SECRET, code, NOW, last_step=0)
    assert step == STEP
    assert totp.matching_step(RFC_SECRET, code, NOW, last_step=step) is None
    assert totp.matching_step(RFC_SECRET, code, NOW + timedelta(seconds=10), step) is None


def test_after_a_code_is_used_older_codes_of_the_window_are_refused_too():
    codes = codes_around(RFC_SECRET, STEP)
    step = totp.matching_step(RFC_SECRET, codes[0], NOW, last_step=0)
    assert totp.matching_step(RFC_SECRET, codes[-1], NOW, last_step=step) is None
    # The next step's code is still new, so it is accepted (once).
    newer = totp.matching_step(RFC_SECRET, codes[1], NOW, last_step=step)
    assert newer == STEP + 1
    assert totp.matching_step(RFC_SECRET, codes[1], NOW, last_step=newer) is None


def test_spaces_around_and_inside_a_code_are_ignored():
    code = totp.code_at(RFC_SECRET, STEP)
    typed = f" {code[:3]} {code[3:]} "
    assert totp.matching_step(RFC_SECRET, typed, NOW, last_step=0) == STEP


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "   ",
        "12345",
        "1234567",
        "abcdef",
        "12345a",
        "-12345",
        "+12345",
        "12.345",
        "１２３４５６",  # fullwidth digits: isdigit() but not ASCII
        "١٢٣٤٥٦",  # Arabic-Indic digits
        "²³⁴⁵⁶⁷",  # superscripts
        "0" * 100,
    ],
)
def test_malformed_codes_are_refused(malformed):
    assert totp.matching_step(RFC_SECRET, malformed, NOW, last_step=0) is None


def test_a_code_for_another_secret_is_refused():
    other = base64.b32encode(b"abcdefghijabcdefghij").decode()
    code = totp.code_at(other, STEP)
    assert code not in codes_around(RFC_SECRET, STEP).values()
    assert totp.matching_step(RFC_SECRET, code, NOW, last_step=0) is None


def test_new_secrets_are_160_bits_of_base32_and_differ():
    secrets = {totp.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(base64.b32decode(secret)) == 20


def test_the_key_is_shown_in_groups_of_four():
    assert totp.format_secret(RFC_SECRET) == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"


def test_provisioning_uri_names_the_business_as_issuer():
    uri = totp.provisioning_uri(RFC_SECRET, "ana@salon.example", "Salon Test")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert unquote(parts.path) == "/Salon Test:ana@salon.example"
    query = parse_qs(parts.query)
    assert query["issuer"] == ["Salon Test"]
    assert query["secret"] == [RFC_SECRET]
    # SHA-1, 6 digits and 30 s are the defaults apps assume when the URI omits them.
    assert query.get("algorithm", ["SHA1"]) == ["SHA1"]
    assert query.get("digits", ["6"]) == ["6"]
    assert query.get("period", ["30"]) == ["30"]


def test_qr_code_is_an_inline_svg_without_inline_styles_or_scripts():
    svg = totp.qr_svg(totp.provisioning_uri(RFC_SECRET, "ana@salon.example", "Salon Test"))
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "style" not in svg.lower()
    assert "<script" not in svg.lower()
    assert "xlink:href" not in svg.lower()


# The secret box.


def test_secret_box_round_trip():
    box = totp.SecretBox("app secret key")
    sealed = box.seal(RFC_SECRET)
    assert isinstance(sealed, bytes)
    assert box.open(sealed) == RFC_SECRET


def test_sealed_secret_does_not_contain_the_secret():
    sealed = totp.SecretBox("app secret key").seal(RFC_SECRET)
    assert RFC_SECRET.encode() not in sealed
    assert RFC_SECRET.lower().encode() not in sealed
    assert b"12345678901234567890" not in sealed
    assert b"12345678901234567890" not in base64.urlsafe_b64decode(sealed)


def test_sealing_twice_gives_different_ciphertexts():
    box = totp.SecretBox("app secret key")
    assert box.seal(RFC_SECRET) != box.seal(RFC_SECRET)


def test_a_box_with_the_same_key_material_opens_it():
    sealed = totp.SecretBox("app secret key").seal(RFC_SECRET)
    assert totp.SecretBox("app secret key").open(sealed) == RFC_SECRET


def test_a_box_with_a_different_key_cannot_open_it():
    sealed = totp.SecretBox("app secret key").seal(RFC_SECRET)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        totp.SecretBox("another key").open(sealed)


def test_a_tampered_secret_is_refused():
    box = totp.SecretBox("app secret key")
    sealed = bytearray(box.seal(RFC_SECRET))
    sealed[-5] ^= 0x01
    with pytest.raises(ValueError, match="cannot be decrypted"):
        box.open(bytes(sealed))


# Recovery codes.

RECOVERY_CODE = re.compile(r"[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}")


def test_ten_recovery_codes_in_an_unambiguous_alphabet():
    codes = totp.new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert RECOVERY_CODE.fullmatch(code), code
        # No 0/o, 1/l/i: nothing to misread when typing it from paper.
        assert not set(code) & set("01ilo")


def test_every_batch_of_recovery_codes_is_new():
    assert set(totp.new_recovery_codes()).isdisjoint(totp.new_recovery_codes())


def test_recovery_code_hash_is_sha256_of_the_normalised_code():
    code = "k7qm-3xfd-p2ha"
    expected = hashlib.sha256(b"k7qm3xfdp2ha").hexdigest()
    assert totp.hash_recovery_code(code) == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)
    assert "k7qm" not in expected


@pytest.mark.parametrize("typed", ["K7QM-3XFD-P2HA", " k7qm 3xfd p2ha ", "k7qm3xfdp2ha"])
def test_recovery_codes_match_however_they_are_typed(typed):
    assert totp.hash_recovery_code(typed) == totp.hash_recovery_code("k7qm-3xfd-p2ha")


def test_different_recovery_codes_have_different_hashes():
    codes = totp.new_recovery_codes()
    assert len({totp.hash_recovery_code(code) for code in codes}) == len(codes)
