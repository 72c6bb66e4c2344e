"""Password hashing (Argon2id) and the password policy. No Flask, no database.

Policy after OWASP ASVS 5.0 V6.2: a minimum length (12 here; ASVS wants at least 8), no
composition rules, and refusal of guessable passwords. zxcvbn's estimate covers the common and
breached-password lists, dictionary words and the user's own name and e-mail.
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MAX_LENGTH = 128  # bounds hashing work; ASVS allows at least 64
MIN_STRENGTH_SCORE = 3  # zxcvbn: "safely unguessable", moderate protection offline

_hasher = PasswordHasher()  # Argon2id with argon2-cffi's RFC 9106 low-memory defaults
# Verified when the e-mail is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash used weaker parameters than today's, so login upgrades it."""
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str, *, min_length: int, user_inputs: list[str]) -> list[str]:
    """Reasons the password is refused; empty when it is acceptable."""
    if len(password) < min_length:
        return [f"Use at least {min_length} characters."]
    if len(password) > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    estimate = zxcvbn(password, user_inputs=[value for value in user_inputs if value])
    if estimate["score"] < MIN_STRENGTH_SCORE:
        hint = estimate["feedback"].get("warning") or "It is too easy to guess."
        return [f"{hint.rstrip('.')}. Try a longer phrase of unrelated words."]
    return []
