"""Webhook delivery rules: which events an organisation may receive, the request we send, which
URLs we accept, and the retry schedule. Pure: no Flask, no database."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from poa_manager.interop import signing

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000
USER_AGENT = "poa_manager-webhooks/1"

# Events a programme's members hear of whoever holds the units; every other event (forwarding,
# transfers, retirements, cancellations) only reaches the accounts it moves units from or to.
PROGRAMME_KINDS = frozenset({"issuance", "authorization", "first_transfer"})


# --- Who may receive what ------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """What one organisation's people may see of the registry's events, as plain ids.

    The rule is the registry's own notification feed (registry/services/events.py `events_for`):
    registry and platform administrators see every event; others see the events moving units to
    or from their organisation's accounts, and the issuances, authorizations and first transfers
    of the programmes they take part in.
    """

    programme_ids: frozenset[int] = frozenset()
    account_numbers: frozenset[str] = frozenset()
    everything: bool = False  # someone of the organisation is a registry or platform administrator


def concerns(audience: Audience, *, kind: str, programme_id: int | None, payload: Mapping[str, Any]) -> bool:
    """Whether an event may be sent to an organisation with this audience."""
    if audience.everything:
        return True
    accounts = {payload.get("from_account"), payload.get("to_account")} - {None}
    if accounts & audience.account_numbers:
        return True
    return kind in PROGRAMME_KINDS and programme_id is not None and programme_id in audience.programme_ids


# --- URLs ----------------------------------------------------------------------------------------


def url_problems(url: str) -> list[str]:
    """Why `url` cannot be a webhook endpoint; empty when it can (http or https, a host, no
    credentials in it)."""
    if not url or len(url) > MAX_URL_LENGTH:
        return [f"Give a URL of at most {MAX_URL_LENGTH} characters."]
    if any(ch.isspace() for ch in url):
        return ["A URL has no spaces."]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError as error:
        return [f"Not a URL: {error}."]
    problems = []
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        problems.append("Only http:// and https:// URLs are accepted.")
    if not parts.hostname:
        problems.append("The URL needs a host name.")
    if parts.username or parts.password:
        problems.append("Put no user name or password in the URL; requests are signed instead.")
    return problems


def normalise_url(url: str) -> str:
    """The URL as stored: trimmed, with a lower-case scheme."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    return f"{scheme.lower()}{sep}{rest}" if sep else url


# --- The request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingRequest:
    """One POST to a receiver: everything the sender needs, nothing from the database."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """What came back: an HTTP status, or an error when no response arrived (or was refused)."""

    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def event_body(
    *,
    event_id: int | None,
    kind: str,
    occurred_at: datetime,
    programme_id: int | None,
    payload: Mapping[str, Any],
) -> bytes:
    """The JSON body: {id, kind, occurred_at, programme_id, payload}, compact with sorted keys,
    so every attempt of one delivery sends the same bytes."""
    document = {
        "id": event_id,
        "kind": kind,
        "occurred_at": occurred_at.isoformat(),
        "programme_id": programme_id,
        "payload": dict(payload),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def signed_request(
    *, url: str, secret: str, kind: str, delivery_id: str, body: bytes, timestamp: int
) -> OutgoingRequest:
    """The POST with its four X-PoA headers; the signature covers the timestamp and the body."""
    return OutgoingRequest(
        url=url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-PoA-Event": kind,
            "X-PoA-Delivery": delivery_id,
            "X-PoA-Timestamp": str(timestamp),
            "X-PoA-Signature": signing.sign(secret, timestamp, body),
        },
    )


# --- Retries -------------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1 min × 2^(attempts − 1), so 1, 2, 4 … 64
    minutes; the 8th failure is final (about two hours of retries in all)."""
    if attempts < 1:
        raise ValueError("attempts counts from 1")
    return FIRST_RETRY * 2 ** (attempts - 1)


def is_final_failure(attempts: int) -> bool:
    return attempts >= MAX_ATTEMPTS
