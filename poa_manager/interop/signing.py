"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>" with the endpoint's secret. Pure.

The scheme is the one Stripe and GitHub receivers already know (a timestamp in the signed text,
so a captured request cannot be replayed later with a fresh timestamp): the receiver recomputes
the HMAC from the raw body and compares in constant time (docs/interoperability.md).
"""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SIGNATURE_SCHEME = "sha256"
DEFAULT_TOLERANCE_SECONDS = 300  # how old a timestamp a receiver accepts (clock skew + retries)


def new_secret() -> str:
    """A random signing secret (256 bits), shown to the endpoint's owner once."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signed_text(timestamp: int, body: bytes) -> bytes:
    return str(timestamp).encode("ascii") + b"." + body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-PoA-Signature` header value: "sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>"."""
    digest = hmac.new(secret.encode("utf-8"), signed_text(timestamp, body), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    now: int | None = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether `signature` is ours for this timestamp and raw body.

    With `now` (epoch seconds) the timestamp must also lie within `tolerance_seconds` of it, which
    stops replays of old requests. The comparison is constant-time (hmac.compare_digest), so
    timing does not leak how many leading characters matched.
    """
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if now is not None and abs(now - stamp) > tolerance_seconds:
        return False
    expected = sign(secret, stamp, body)
    return hmac.compare_digest(expected.encode("ascii"), (signature or "").strip().encode("utf-8"))
