"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", checked in constant time."""

import hashlib
import hmac

import pytest

from poa_manager.interop import signing

SECRET = "whsec_test-secret"
BODY = b'{"id":1,"kind":"issuance"}'
STAMP = 1_767_225_600


def test_the_signature_is_hex_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{STAMP}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signing.sign(SECRET, STAMP, BODY) == f"sha256={expected}"


def test_a_genuine_signature_verifies():
    assert signing.verify(SECRET, STAMP, BODY, signing.sign(SECRET, STAMP, BODY))
    assert signing.verify(SECRET, str(STAMP), BODY, signing.sign(SECRET, STAMP, BODY))  # header text


@pytest.mark.parametrize(
    ("secret", "stamp", "body"),
    [
        ("whsec_other", STAMP, BODY),  # another endpoint's secret
        (SECRET, STAMP + 1, BODY),  # the timestamp changed: a replay with a fresh stamp
        (SECRET, STAMP, BODY + b" "),  # one byte of the body changed
    ],
)
def test_any_change_breaks_the_signature(secret, stamp, body):
    assert not signing.verify(secret, stamp, body, signing.sign(SECRET, STAMP, BODY))


@pytest.mark.parametrize("signature", ["", "sha256=", "sha256=zz", "md5=abc", "sha256=" + "0" * 64, "é"])
def test_malformed_or_forged_signatures_fail(signature):
    assert not signing.verify(SECRET, STAMP, BODY, signature)


@pytest.mark.parametrize("stamp", ["", "abc", None, "12.5"])
def test_a_timestamp_that_is_not_a_whole_number_fails(stamp):
    assert not signing.verify(SECRET, stamp, BODY, signing.sign(SECRET, STAMP, BODY))


def test_with_a_clock_old_timestamps_are_refused():
    signature = signing.sign(SECRET, STAMP, BODY)
    assert signing.verify(SECRET, STAMP, BODY, signature, now=STAMP + 300)
    assert signing.verify(SECRET, STAMP, BODY, signature, now=STAMP - 300)  # receiver's clock behind
    assert not signing.verify(SECRET, STAMP, BODY, signature, now=STAMP + 301)
    assert not signing.verify(SECRET, STAMP, BODY, signature, now=STAMP + 10, tolerance_seconds=5)


def test_comparison_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(signing.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    signing.verify(SECRET, STAMP, BODY, "sha256=00")
    assert len(calls) == 1


def test_new_secrets_are_random_and_prefixed():
    secrets = {signing.new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(s.startswith("whsec_") and len(s) >= 45 for s in secrets)
