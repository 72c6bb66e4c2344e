"""Webhook delivery rules: who receives what, accepted URLs, the body and headers, the retry schedule."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from poa_manager.interop import delivery, signing
from poa_manager.interop.delivery import Audience

ISSUANCE = {"issuance": "ISS-00001", "blocks": []}
FORWARD = {"issuance": "ISS-00001", "to_account": "ACC-00007", "serial_start": 1, "serial_end": 50}
TRANSFER = {"transaction": "TX-000001", "from_account": "ACC-00007", "to_account": "ACC-00009"}


@pytest.mark.parametrize(
    ("audience", "kind", "payload", "expected"),
    [
        (Audience(programme_ids=frozenset({1})), "issuance", ISSUANCE, True),  # a member of the programme
        (Audience(programme_ids=frozenset({1})), "authorization", {}, True),
        (Audience(programme_ids=frozenset({1})), "first_transfer", {}, True),
        (Audience(programme_ids=frozenset({2})), "issuance", ISSUANCE, False),  # another programme's
        (Audience(account_numbers=frozenset({"ACC-00007"})), "forward", FORWARD, True),  # forwarded to it
        (Audience(programme_ids=frozenset({1})), "forward", FORWARD, False),  # others' shares stay private
        (Audience(programme_ids=frozenset({1})), "transfer", TRANSFER, False),  # so do others' trades
        (Audience(account_numbers=frozenset({"ACC-00009"})), "transfer", TRANSFER, True),  # the receiver
        (Audience(account_numbers=frozenset({"ACC-00007"})), "transfer", TRANSFER, True),  # the sender
        (Audience(everything=True), "transfer", TRANSFER, True),  # a registry or platform administrator
        (Audience(everything=True), "issuance", ISSUANCE, True),
        (Audience(), "issuance", ISSUANCE, False),
    ],
)
def test_an_event_goes_only_to_organisations_that_may_see_it(audience, kind, payload, expected):
    assert delivery.concerns(audience, kind=kind, programme_id=1, payload=payload) is expected


@pytest.mark.parametrize(
    "url", ["https://example.org/hook", "http://127.0.0.1:8000/x?y=1", "HTTPS://EXAMPLE.ORG/Hook"]
)
def test_http_and_https_urls_are_accepted(url):
    assert delivery.url_problems(url) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.org/x", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("example.org/hook", "Only http:// and https://"),
        ("https://", "needs a host"),
        ("https://user:pw@example.org/", "no user name or password"),
        ("https://example.org:99999/", "Not a URL"),
        ("https://exa mple.org/", "no spaces"),
        ("", "at most 2000"),
        ("https://example.org/" + "a" * 2000, "at most 2000"),
    ],
)
def test_other_urls_are_refused(url, problem):
    assert any(problem in p for p in delivery.url_problems(url))


def test_urls_are_stored_with_a_lower_case_scheme():
    assert delivery.normalise_url("  HTTPS://Example.org/Hook ") == "https://Example.org/Hook"


def test_the_body_is_compact_sorted_json_of_the_event():
    body = delivery.event_body(
        event_id=7,
        kind="transfer",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        programme_id=3,
        payload={"transaction": "TX-000001", "serial_start": 11, "serial_end": 20},
    )
    assert body.startswith(b'{"id":7,"kind":"transfer","occurred_at":"2026-01-02T03:04:05+00:00"')
    assert json.loads(body)["payload"] == {"transaction": "TX-000001", "serial_start": 11, "serial_end": 20}


def test_the_request_carries_event_delivery_timestamp_and_a_verifiable_signature():
    request = delivery.signed_request(
        url="https://example.org/hook",
        secret="whsec_s",
        kind="issuance",
        delivery_id="42",
        body=b"{}",
        timestamp=99,
    )
    headers = request.headers
    assert (headers["X-PoA-Event"], headers["X-PoA-Delivery"], headers["X-PoA-Timestamp"]) == (
        "issuance",
        "42",
        "99",
    )
    assert headers["Content-Type"] == "application/json"
    assert signing.verify("whsec_s", headers["X-PoA-Timestamp"], request.body, headers["X-PoA-Signature"])


@pytest.mark.parametrize(("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (7, 64)])
def test_retries_back_off_exponentially_from_one_minute(attempts, minutes):
    assert delivery.retry_delay(attempts) == timedelta(minutes=minutes)


def test_the_eighth_failure_is_final_after_about_two_hours_of_retries():
    assert not delivery.is_final_failure(7) and delivery.is_final_failure(8)
    waited = sum((delivery.retry_delay(n) for n in range(1, delivery.MAX_ATTEMPTS)), timedelta())
    assert waited == timedelta(minutes=127)
    with pytest.raises(ValueError):
        delivery.retry_delay(0)


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (204, True), (299, True), (301, False), (500, False)]
)
def test_only_2xx_counts_as_delivered(status, ok):
    assert delivery.Response(status_code=status).ok is ok
    assert not delivery.Response(error="timed out").ok
