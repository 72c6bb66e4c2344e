"""TOTP codes against RFC 6238's published vectors, the drift window, the QR code and recovery codes."""

import hashlib
from datetime import UTC, datetime

import pytest

from poa_manager.accounts import two_factor

# RFC 6238 Appendix B, HMAC-SHA1: the key is the ASCII "12345678901234567890"; the published codes
# are 8 digits, and a 6-digit code is their last six (the truncation is the same, mod 10^6).
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "eight_digits"), RFC_VECTORS)
def test_codes_match_the_rfc_6238_vectors(unix_time, eight_digits):
    step = unix_time // two_factor.STEP_SECONDS
    assert two_factor.code_at_step(RFC_SECRET, step) == eight_digits[-6:]


def test_one_step_of_drift_each_way_and_no_more():
    now = datetime.fromtimestamp(1234567890, UTC)
    step = two_factor.step_of(now)
    found = {
        offset: two_factor.matching_step(RFC_SECRET, two_factor.code_at_step(RFC_SECRET, step + offset), now)
        for offset in (-2, -1, 0, 1, 2)
    }
    assert found == {-2: None, -1: step - 1, 0: step, 1: step + 1, 2: None}


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "89 00 5924", "۸۹۰۰۵۹"])
def test_anything_but_six_ascii_digits_is_no_code(code):
    now = datetime.fromtimestamp(1234567890, UTC)
    assert two_factor.matching_step(RFC_SECRET, code, now) is None


def test_a_new_secret_has_160_bits_and_its_uri_and_qr_code_say_sha1_6_digits_30_s():
    secret = two_factor.new_secret()
    assert len(secret) == 32 and secret != two_factor.new_secret()  # 32 base32 characters = 160 bits
    uri = two_factor.provisioning_uri(secret, account="thu@example.org", issuer="poa_manager")
    assert uri.startswith("otpauth://totp/poa_manager:thu%40example.org?secret=" + secret)
    assert "issuer=poa_manager" in uri
    svg = two_factor.qr_svg(uri)
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert b"<script" not in svg and b"style=" not in svg  # nothing the CSP would have to allow


def test_recovery_codes_are_ten_distinct_64_bit_codes_and_their_hash_ignores_dashes_and_case():
    codes = two_factor.new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    assert all(len(code) == 19 and code.count("-") == 3 for code in codes)
    code = codes[0]
    assert two_factor.recovery_code_hash(code.upper().replace("-", " ")) == two_factor.recovery_code_hash(
        code
    )
    assert two_factor.recovery_code_hash(code) == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
