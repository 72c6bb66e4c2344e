"""Serial-numbered credit blocks (domain.md §5.3, §5.5, §6.3): ranges, splits, allocation, identifiers.

Pure: standard library only, no Flask, no database (architecture.md §8). The ledger stores every
holding as a block `(prefix fields…, start, end)` with inclusive ends (domain.md §6.3 "Platform
rule"); this module holds the arithmetic on such blocks, so that it lives in one reviewed place:

- `SerialRange`: an inclusive block `start–end`, its quantity and overlap tests;
- `split_off`: the partial-block split rule, the owner keeps the FIRST sub-block (§5.5);
- `allocate`: contiguous, never reused blocks from the programme's serial counter (§6.3);
- `credits_from_tco2e`: THE one place where verified tCO2e become whole credits (rounded down);
- `apportion`: whole credits split in proportion to weights (largest remainder, exact arithmetic);
- `format_serial` / `parse_serial`: the platform's readable block serial (layout is ours, [U]);
- `itmo_identifier`: the Article 6.2 ITMO unique identifier (§5.3; elements [S], layout [U]).

Credits are whole numbers (int); tCO2e and weights are Decimals (or ints), never floats: a float
cannot hold 0.1 exactly, and a rounding slip here is a double issuance (quality.md A1 #2, T1).
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from urllib.parse import unquote_to_bytes

# --- Serial ranges (domain.md §6.3) --------------------------------------------------------------


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is no serial number or quantity.
    return isinstance(value, int) and not isinstance(value, bool)


def _require_int(value: object, what: str) -> None:
    if not _is_int(value):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")


@dataclass(frozen=True, order=True)
class SerialRange:
    """An inclusive block of serial numbers `start–end` (domain.md §6.3: quantity = end − start + 1).

    Serial numbers start at 1. Blocks order by (start, end), i.e. in the order they were issued.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        _require_int(self.start, "the first serial number")
        _require_int(self.end, "the last serial number")
        if self.start < 1:
            raise ValueError(f"serial numbers start at 1, not {self.start}")
        if self.end < self.start:
            raise ValueError(f"serial block {self.start}–{self.end} ends before it starts")

    @property
    def quantity(self) -> int:
        """Number of credits in the block: end − start + 1 (both ends are included)."""
        return self.end - self.start + 1

    def overlaps(self, other: "SerialRange") -> bool:
        """Whether the two blocks share at least one serial number.

        Ends are inclusive, so 37–41 and 41–55 overlap (both hold unit 41): the slip in the UNDP
        generator's README example that quality.md A1 #2 warns about.
        """
        if not isinstance(other, SerialRange):
            raise TypeError(f"cannot compare a serial block with {type(other).__name__}")
        return self.start <= other.end and other.start <= self.end

    def contains(self, other: "SerialRange | int") -> bool:
        """Whether a serial number, or every number of another block, lies within this block."""
        if isinstance(other, SerialRange):
            return self.start <= other.start and other.end <= self.end
        _require_int(other, "a serial number")
        return self.start <= other <= self.end

    def __str__(self) -> str:
        return f"{self.start}–{self.end}"


def split_off(block: SerialRange, quantity: int) -> tuple[SerialRange | None, SerialRange]:
    """Split `quantity` credits off `block` for a transfer or retirement: returns (kept, moved).

    domain.md §5.5 [S] partial-block split rule (the UNDP/Article 6 convention): on a partial
    transfer or retirement the owner keeps the FIRST sub-block and the transferee receives the
    LAST sub-block. So 1–150 less 50 leaves 1–100 with the owner and moves 101–150. Moving the
    whole block returns (None, block).
    """
    _require_int(quantity, "the quantity to split off")
    if not 1 <= quantity <= block.quantity:
        raise ValueError(f"cannot split {quantity} credits off block {block} of {block.quantity}")
    moved = SerialRange(block.end - quantity + 1, block.end)
    if quantity == block.quantity:
        return None, moved
    return SerialRange(block.start, moved.start - 1), moved


def allocate(next_serial: int, quantities: Sequence[int]) -> list[SerialRange]:
    """Contiguous blocks from `next_serial` on, one per quantity, in order (domain.md §6.3).

    Each block starts right after the previous one, so no number is skipped or used twice; the
    caller stores `blocks[-1].end + 1` as the programme's next serial. Every quantity must be at
    least 1: a site line with no credits gets no block, so callers leave zeros out.
    """
    _require_int(next_serial, "the next serial number")
    if next_serial < 1:
        raise ValueError(f"serial numbers start at 1, not {next_serial}")
    blocks: list[SerialRange] = []
    start = next_serial
    for i, quantity in enumerate(quantities):
        _require_int(quantity, f"quantity #{i}")
        if quantity < 1:
            raise ValueError(f"quantity #{i} is {quantity}: every block holds at least one credit")
        blocks.append(SerialRange(start, start + quantity - 1))
        start += quantity
    return blocks


# --- Whole credits (domain.md §6.3, quality.md T1) -----------------------------------------------


def credits_from_tco2e(tco2e: Decimal | int) -> int:
    """Whole credits for verified tCO2e: rounded DOWN (ROUND_FLOOR), 150.999 tCO2e → 150 credits.

    The one place where tonnes become credits (architecture.md §8): one credit is one tCO2e, and
    rounding down is the conservative direction, so the credits never exceed the verified
    reductions. Negative or non-finite amounts (NaN, Infinity) raise ValueError; floats and
    other types raise TypeError.
    """
    if isinstance(tco2e, Decimal):
        if not tco2e.is_finite():
            raise ValueError(f"verified reductions {tco2e} are not a finite number")
    elif not _is_int(tco2e):
        raise TypeError(f"verified reductions must be a Decimal or an int, not {type(tco2e).__name__}")
    if tco2e < 0:
        raise ValueError(f"verified reductions {tco2e} tCO2e are negative")
    return math.floor(tco2e)  # exact for any finite Decimal: Decimal.__floor__ returns an int


def _weight(value: object, i: int) -> Fraction:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"weight #{i} ({value}) is not a finite number")
    elif not (_is_int(value) or isinstance(value, Fraction)):
        raise TypeError(f"weight #{i} must be a Decimal or an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"weight #{i} ({value}) is negative")
    return Fraction(value)


def apportion(total: int, weights: Sequence[Decimal]) -> list[int]:
    """Split `total` whole credits in proportion to `weights`; the parts sum exactly to `total`.

    Largest-remainder (Hamilton) method: each part first gets the integer part of its quota
    q_i = total·w_i / Σw, and the credits left over go one each to the largest fractional parts,
    ties to the earlier index. So every part is ⌊q_i⌋ or ⌈q_i⌉, a whole quota is met exactly and a
    zero weight gets nothing: 10 credits at 1/1/1 → 4/3/3; 1001 at 50/30/20 % → 501/300/200.
    Arithmetic is exact (fractions), so equal remainders really are equal.

    Used for (a) an issuance's credits between its site lines, weighted by each site's verified
    tCO2e (flooring each site separately would lose up to one credit per site), and (b) credits
    by an allocation table, weighted by the shares in percent (domain.md §4.4); the weights need
    not sum to 100. Weights are Decimals or ints, never floats. A total of 0 gives zeros; a
    positive total over weights that are all zero (or none) raises ValueError.
    """
    _require_int(total, "the total to apportion")
    if total < 0:
        raise ValueError(f"cannot apportion a negative total of {total} credits")
    exact = [_weight(w, i) for i, w in enumerate(weights)]
    if total == 0:
        return [0] * len(exact)
    weight_sum = sum(exact, Fraction(0))
    if weight_sum == 0:
        raise ValueError(f"cannot apportion {total} credits: every weight is zero")
    quotas = [total * w / weight_sum for w in exact]
    parts = [math.floor(q) for q in quotas]
    left = total - sum(parts)
    # left = Σ fractional parts < the number of non-zero fractions, so a part whose quota is
    # whole (fraction 0) never gets one more.
    for i in sorted(range(len(quotas)), key=lambda i: (parts[i] - quotas[i], i))[:left]:
        parts[i] += 1
    return parts


# --- Readable block serials (domain.md §6.3) -----------------------------------------------------

# Platform codes of the mechanisms, keyed by poa_manager.programmes.rules.Mechanism values.
MECHANISM_CODES: dict[str, str] = {
    "jcm": "JCM",
    "cdm_poa": "CDM",
    "gold_standard": "GS",
    "verra_grouped": "VCS",
    "article6_cooperative": "A6",
}

_MECHANISM = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_VINTAGE = re.compile(r"[0-9]{4}")
_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_ENCODED = re.compile(r"(?:[A-Za-z0-9_-]|%[0-9A-Fa-f]{2})+")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _check_vintage(vintage: int) -> None:
    _require_int(vintage, "the vintage")
    if not 1000 <= vintage <= 9999:
        raise ValueError(f"vintage {vintage} is not a four-digit year")


@dataclass(frozen=True)
class SerialPrefix:
    """What a block serial says before its numbers: mechanism, host country, programme, site, vintage.

    `mechanism` is a code of ASCII letters and digits starting with a letter (JCM, CDM, GS, VCS,
    A6; see MECHANISM_CODES) and `host_country` an ISO 3166-1 alpha-2 code; both are stored
    upper-case, so SerialPrefix("jcm", "vn", …) == SerialPrefix("JCM", "VN", …). The programme and
    site references may be any non-empty text. The vintage is a four-digit year.
    """

    mechanism: str
    host_country: str
    programme: str
    site: str
    vintage: int

    def __post_init__(self) -> None:
        if not isinstance(self.mechanism, str) or not _MECHANISM.fullmatch(self.mechanism):
            raise ValueError(f"mechanism code {self.mechanism!r} is not letters and digits (e.g. JCM)")
        if not isinstance(self.host_country, str) or not _COUNTRY.fullmatch(self.host_country):
            raise ValueError(f"host country {self.host_country!r} is not a two-letter ISO code")
        for what, reference in (("programme", self.programme), ("site", self.site)):
            if not isinstance(reference, str):
                raise TypeError(f"the {what} reference must be a string, not {type(reference).__name__}")
            if not reference:
                raise ValueError(f"the {what} reference is empty")
        _check_vintage(self.vintage)
        object.__setattr__(self, "mechanism", self.mechanism.upper())
        object.__setattr__(self, "host_country", self.host_country.upper())


def _encode_reference(reference: str) -> str:
    # Percent-encode the UTF-8 bytes of everything but ASCII letters, digits, "-" and "_", so that
    # "." only ever separates parts. (urllib.parse.quote would leave "." and "~" as they are.)
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in reference.encode("utf-8"))


def _decode_reference(part: str, what: str) -> str:
    if not part:
        raise ValueError(f"the {what} reference is empty")
    if not _ENCODED.fullmatch(part):
        raise ValueError(
            f"the {what} reference {part!r} has characters other than letters, digits, '-', '_' "
            "and %XX escapes"
        )
    try:
        return unquote_to_bytes(part).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"the {what} reference {part!r} does not decode as UTF-8") from None


def format_serial(prefix: SerialPrefix, block: SerialRange) -> str:
    """The block's readable serial, `{MECHANISM}.{CC}.{programme}.{site}.{vintage}.{start}-{end}`.

    E.g. `JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.000000001-000000150` for credits 1–150. The layout
    is the platform's own ([U]: domain.md §6.3 gives Verra's and Gold Standard's formats but none
    for JCM). Numbers are padded to 9 digits (longer ones are written in full); the references
    are percent-encoded except for ASCII letters, digits, "-" and "_", so the five dots always
    separate the six parts. The output is canonical: parse_serial(format_serial(p, b)) == (p, b).
    """
    return ".".join(
        (
            prefix.mechanism,
            prefix.host_country,
            _encode_reference(prefix.programme),
            _encode_reference(prefix.site),
            str(prefix.vintage),
            f"{block.start:09d}-{block.end:09d}",
        )
    )


def parse_serial(text: str) -> tuple[SerialPrefix, SerialRange]:
    """Read a serial written by `format_serial`, or a looser spelling of one; ValueError if malformed.

    Also accepted: surrounding whitespace, a lower-case mechanism or country, lower-case %xx
    escapes, unpadded numbers and a single serial number in place of the range (`….2025.42` is
    42–42). format_serial(*parse_serial(s)) gives the canonical spelling of s.
    """
    if not isinstance(text, str):
        raise TypeError(f"a serial must be a string, not {type(text).__name__}")
    parts = text.strip().split(".")
    if len(parts) != 6:
        raise ValueError(
            f"malformed serial {text!r}: expected 6 parts separated by dots "
            f"(mechanism.country.programme.site.vintage.start-end), found {len(parts)}"
        )
    mechanism, country, programme, site, vintage, numbers = parts
    try:
        if not _VINTAGE.fullmatch(vintage):
            raise ValueError(f"vintage {vintage!r} is not four digits")
        match = _RANGE.fullmatch(numbers)
        if not match:
            raise ValueError(f"{numbers!r} is neither a serial number nor a range start-end")
        start = int(match[1])
        end = int(match[2]) if match[2] is not None else start
        block = SerialRange(start, end)
        prefix = SerialPrefix(
            mechanism,
            country,
            _decode_reference(programme, "programme"),
            _decode_reference(site, "site"),
            int(vintage),
        )
    except ValueError as error:
        raise ValueError(f"malformed serial {text!r}: {error}") from None
    return prefix, block


# --- Article 6.2 ITMO unique identifier (domain.md §5.3) ----------------------------------------

_COOPERATIVE_APPROACH = re.compile(r"CA[0-9]{4}")
_REGISTRY = re.compile(r"[A-Za-z0-9]+")


def itmo_identifier(
    *,
    cooperative_approach: str,
    registry: str,
    first_transferring_party: str,
    serial: int | SerialRange,
    vintage: int,
) -> str:
    """The ITMO unique identifier, e.g. `CA0001-JCMVN-VN-000000001-000000150-2025`.

    Decision 6/CMA.4 annex I (domain.md §5.3 [S]) fixes only the ELEMENTS, at least: (a) the
    cooperative-approach ID, `CA` + 4 digits ([S]); (b) the originating Party registry ID;
    (c) the first transferring Party (ISO 3166-1 alpha-2); (d) a serial number; (e) the vintage.
    The layout, i.e. this order, the "-" separator and the 9-digit padding, is the platform's
    choice [U], not the decision's. `serial` is one number or a block (start-end); for the AEF's
    first and last unique identifier (§5.4) pass block.start and block.end. The registry ID is
    ASCII letters and digits (no "-", which separates the elements); it and the Party are written
    upper-case. Anything else raises ValueError.
    """
    if not isinstance(cooperative_approach, str) or not _COOPERATIVE_APPROACH.fullmatch(cooperative_approach):
        raise ValueError(f"cooperative approach ID {cooperative_approach!r} is not CA + 4 digits (CA0001)")
    if not isinstance(registry, str) or not _REGISTRY.fullmatch(registry):
        raise ValueError(f"registry ID {registry!r} is not ASCII letters and digits")
    if not isinstance(first_transferring_party, str) or not _COUNTRY.fullmatch(first_transferring_party):
        raise ValueError(
            f"first transferring Party {first_transferring_party!r} is not a two-letter ISO code"
        )
    _check_vintage(vintage)
    if isinstance(serial, SerialRange):
        numbers = f"{serial.start:09d}-{serial.end:09d}"
    else:
        _require_int(serial, "the serial number")
        if serial < 1:
            raise ValueError(f"serial numbers start at 1, not {serial}")
        numbers = f"{serial:09d}"
    return "-".join(
        (cooperative_approach, registry.upper(), first_transferring_party.upper(), numbers, str(vintage))
    )
