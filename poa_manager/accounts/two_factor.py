"""TOTP codes (RFC 6238), their QR code and recovery codes. No Flask, no database.

Parameters are the authenticator-app defaults: HMAC-SHA1, 6 digits, 30-second steps. Google
Authenticator and most others ignore any other choice in the otpauth URI, so SHA-256 or 8 digits
would enrol "fine" and then never match.
"""

import hashlib
import hmac
import io
import re
import secrets
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
# RFC 6238 §5.2 recommends accepting at most one step of clock drift in each direction.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10

_SIX_DIGITS = re.compile(r"^[0-9]{6}$")  # ASCII only: compare_digest refuses other digits


def new_secret() -> str:
    """160 random bits in base32, the length RFC 4226 recommends for HMAC-SHA1 keys."""
    return pyotp.random_base32(32)


def step_of(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(step * STEP_SECONDS)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The step (now ± DRIFT_STEPS) whose code this is, or None. Replays are the caller's check."""
    code = code.strip().replace(" ", "")
    if not _SIX_DIGITS.match(code):
        return None
    current = step_of(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Compare every candidate in constant time, so timing does not tell which step matched.
        if hmac.compare_digest(code_at_step(secret, step), code):
            found = step
    return found


def looks_like_totp(code: str) -> bool:
    return bool(_SIX_DIGITS.match(code.strip().replace(" ", "")))


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> bytes:
    """The URI as an SVG QR code, drawn here: no external QR service ever sees the secret."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=True)
    return buffer.getvalue()


def format_secret(secret: str) -> str:
    """Groups of four, for typing the secret into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes of 64 random bits, e.g. 3f9a-1c2e-77b0-d41a: too many to guess, so SHA-256 suffices."""
    codes = []
    for _ in range(count):
        raw = secrets.token_hex(8)
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def normalise_recovery_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def recovery_code_hash(code: str) -> str:
    return hashlib.sha256(normalise_recovery_code(code).encode()).hexdigest()
