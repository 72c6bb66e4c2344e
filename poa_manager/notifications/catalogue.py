"""The fixed catalogue of notification categories, the e-mail retry schedule and the text helpers.
Pure: no Flask, no database."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    recipients: str  # who receives it, as shown on the preferences page and in docs/notifications.md


CATEGORIES = (
    Category("site_checked", "Site checked", "the programme's coordinators and the site's operators"),
    Category("inclusion_to_confirm", "Inclusion to confirm", "the programme's verifiers"),
    Category(
        "inclusion_decided",
        "Inclusion decided",
        "the programme's coordinators and the site's operators (included, returned, under review, excluded)",
    ),
    Category("upload_rejected", "Readings upload rejected", "the uploader and the programme's coordinators"),
    Category(
        "period_ready",
        "Monitoring period ready",
        "the programme's coordinators; registry administrators once the report is submitted",
    ),
    Category(
        "issuance_requested",
        "Issuance requested",
        "the programme's coordinators and registry administrators",
    ),
    Category(
        "verifier_assigned",
        "Verifier assigned",
        "the verification team and the programme's coordinators",
    ),
    Category(
        "statement_review",
        "Statement to review",
        "the verifier organisation's people (drafted), the team (returned)",
    ),
    Category(
        "statement_issued",
        "Verification statement issued",
        "the programme's coordinators and registry administrators, who approve the issuance",
    ),
    Category("credits_issued", "Issuance approved", "the programme's coordinators, with the serial ranges"),
    Category(
        "credits_forwarded",
        "Credits forwarded",
        "the people of each receiving account holder, and the coordinators, with the serial ranges",
    ),
    Category(
        "transaction_to_approve",
        "Transaction to approve",
        "the holding organisation's other people and the programme's registry administrators",
    ),
    Category(
        "transfer_pending",
        "Transfer pending",
        "the holding organisation's people while the account's delay runs (time to stop it)",
    ),
    Category(
        "credits_moved",
        "Credits moved",
        "the people of both account holders and the initiator (transfers, cancellations, refusals)",
    ),
    Category("retirement_done", "Retirement done", "the holding organisation's people and the initiator"),
)
BY_KEY = {category.key: category for category in CATEGORIES}

# E-mail retries: 1 min × 2^(attempts − 1) after each failure, so 1, 2, 4 … 64 minutes; the 8th
# failed attempt is final (about two hours of retries), as for webhooks (interop/delivery.py).
MAX_EMAIL_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)

SUBJECT_MAX = 255
BODY_MAX = 2000
ERROR_MAX = 500
LISTED_ITEMS = 20  # serial ranges or sites named in one notice; the rest are counted


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed e-mail attempt."""
    if attempts < 1:
        raise ValueError("attempts counts from 1")
    return FIRST_RETRY * 2 ** (attempts - 1)


def is_final_failure(attempts: int) -> bool:
    return attempts >= MAX_EMAIL_ATTEMPTS


def listing(items: Sequence[str], *, limit: int = LISTED_ITEMS) -> str:
    """Items one per line, the first `limit` of them, then how many more there are."""
    shown = [f"- {item}" for item in items[:limit]]
    if len(items) > limit:
        shown.append(f"- … and {len(items) - limit} more")
    return "\n".join(shown)


def clip(text: str, size: int) -> str:
    """Text cut to a column's size, marked with an ellipsis when cut."""
    return text if len(text) <= size else text[: size - 1] + "…"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
