"""The Article 6.2 Agreed Electronic Format (AEF) report of one Party for one calendar year (domain.md §5.4).

Pure: standard library and openpyxl only, no Flask, no database (architecture.md §8). The registry
services read the ledger and pass plain records in (`AuthorizationRecord`, `ActionRecord`,
`HoldingRecord`); this module filters them, checks them, lays them out as the AEF tables and adds
them up, and writes the result as JSON, CSV or XLSX. It never queries anything.

Sources, and how sure we are of them:

- AEF v2 (decision 4/CMA.6 Annex II) has FIVE tables, (T1) submission, (T2) authorizations,
  (T3) actions, (T4) holdings as at 31 December and (T5) authorized entities with their country of
  incorporation; the reporting cycle is the calendar year and unit IDs are integers. [S] domain.md
  §5.4, from two secondary GitHub documents. The official annex was not available to check, so the
  exact v2 column names are unconfirmed: every column that is not also in AEF v1 is marked [U].
- The AEF v1 column labels (decision 6/CMA.4 Annex II) are those of the UNDP national carbon
  registry's AEF export, `undp/undp-national-carbon-registry`,
  `backend/services/libs/shared/src/i18n/en/aef.json` (read for this module): "Cooperative
  approach", "First unique identifier", "Last unique identifier", "Underlying unit block start ID",
  "Metric", "Quantity (t CO2 eq)", "First transferring participating Party", "Vintage", "Sector(s)",
  "Activity type(s)", "Date of authorization", "Authorization ID", "Purposes for authorization",
  "Action date", "Action type", "Transferring participating Party", "Acquiring participating
  Party", "Using participating Party or authorized entity or entities" and "First transfer" (used
  there both for the first-transfer definition and for the first-transfer flag). [S] We write the
  quantity as "Quantity (tCO2e)", and the block end as "Underlying unit block end ID" where UNDP
  says "Underlying unit last block end" [U].
- The action types are those of the same repository's
  `backend/services/libs/shared/src/enum/aef.action.type.enum.ts` (authorization, first transfer,
  transfer, acquisition, use towards NDC, use for OIMP, voluntary cancellation, OMGE cancellation;
  its "retire" and "cross-border transfer" are UNDP-internal and not used here). [S]
- The ITMO unique identifier (§5.3) comes from `serials.itmo_identifier`; its elements are [S],
  its layout the platform's own [U].

Not produced (left to CARP or not held by the platform): the Article 6 database record ID; T1's
review status, consistency check and TER link (filled in by CARP, §5.4); v2's "mitigation type";
the "conversion factor" and "quantity in metric" columns (the metric is always tCO2e, so both would
repeat the quantity); "OIMP authorized by the Party" and "purposes for cancellation" (the action
type already says which use or cancellation it is).

Every table cell is a str or an int: dates are ISO 8601 strings, lists are joined with "; ", a
missing value is "", and flags are "Yes"/"No" [U spelling], so the JSON, CSV and XLSX outputs hold
exactly the same values (the CSV and XLSX only add formula protection).
"""

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from poa_manager.registry.serials import SerialRange, itmo_identifier
from poa_manager.tabular import neutralise

# --- Vocabularies ---------------------------------------------------------------------------------

METRIC = "tCO2e"

# Platform code → AEF label. Codes after UNDP's AefActionTypeEnum [S]; labels after its i18n file.
ACTION_TYPES: dict[str, str] = {
    "authorization": "Authorization",
    "first_transfer": "First transfer",
    "transfer": "Transfer",
    "acquisition": "Acquisition",
    "use_ndc": "Use towards NDC",
    "use_oimp": "Use for OIMP",
    "omge_cancellation": "OMGE cancellation",
    "voluntary_cancellation": "Voluntary cancellation",
}

# Purposes for authorization (domain.md §5.1): NDC use, other international mitigation purposes, other.
PURPOSES: dict[str, str] = {"ndc": "NDC", "oimp": "OIMP", "other": "Other"}

# What the first transferring Party defined as "first transfer" (decision 2/CMA.3 annex para 2, §5.1).
FIRST_TRANSFER_DEFINITIONS: dict[str, str] = {
    "issuance": "Issuance",
    "authorization": "Authorization",
    "first_international_transfer": "First international transfer",
}

# Lifecycle states of a block (quality.md A1 #11) as shown in T4.
HOLDING_STATUSES: dict[str, str] = {
    "authorized": "Authorized",
    "first_transferred": "First transferred",
    "used": "Used",
    "cancelled": "Cancelled",
}

# The overall totals of `AefReport.totals`, next to the (action type, vintage) keys (quality.md T9).
OVERALL_TOTALS: tuple[str, ...] = (
    "first_transfers",
    "use_ndc",
    "use_oimp",
    "omge_cancellations",
    "voluntary_cancellations",
)

T1, T2, T3, T4, T5 = (
    "T1 Submission",
    "T2 Authorizations",
    "T3 Actions",
    "T4 Holdings",
    "T5 Authorized entities",
)
TABLES: tuple[str, ...] = (T1, T2, T3, T4, T5)

# Column order of each table. Labels found in the UNDP AEF v1 export are [S]; the rest are [U]
# (v2-only columns whose official wording was not available, see the module docstring).
COLUMNS: dict[str, list[str]] = {
    T1: [
        "Party",  # [U]
        "Reporting year",  # [U]
        "NDC period first year",  # [U]
        "NDC period last year",  # [U]
        "Submission date",  # [U]
        "Remarks",  # [U]
    ],
    T2: [
        "Authorization ID",
        "Authorization version",  # [U]
        "Date of authorization",
        "Cooperative approach",
        "Authorizing participating Party",  # [U]
        "Purposes for authorization",
        "First transfer definition",  # [U] UNDP: "First transfer"
        "Authorized Parties",  # [U]
        "Authorized entities",  # [U]
        "Sector(s)",
        "Activity type(s)",
        "Metric",
        "Authorized quantity (tCO2e)",  # [U]
        "First vintage",  # [U]
        "Last vintage",  # [U]
        "In force on 31 December",  # [U] platform column
    ],
    T3: [
        "Cooperative approach",
        "Authorization ID",
        "First unique identifier",
        "Last unique identifier",
        "Underlying unit block start ID",
        "Underlying unit block end ID",  # [U] UNDP: "Underlying unit last block end"
        "Metric",
        "Quantity (tCO2e)",
        "First transferring participating Party",
        "Vintage",
        "Action date",
        "Action type",
        "Transferring participating Party",
        "Acquiring participating Party",
        "Purposes for authorization",
        "Using participating Party or authorized entity or entities",
        "First transfer",
    ],
    T4: [
        "Cooperative approach",
        "First unique identifier",
        "Last unique identifier",
        "Underlying unit block start ID",
        "Underlying unit block end ID",  # [U]
        "Metric",
        "Quantity (tCO2e)",
        "First transferring participating Party",
        "Vintage",
        "Status",  # [U]
        "Holding Party",  # [U]
        "As at",  # [U]
    ],
    T5: [
        "Authorization ID",
        "Authorization version",  # [U]
        "Cooperative approach",
        "Authorized entity",  # [U]
        "Country of incorporation",  # [U]
    ],
}

# --- Input records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationRecord:
    """One version of a letter of authorization (domain.md §5.1, §5.4 T2/T5)."""

    authorization_id: str  # the letter of authorization reference
    version: int
    cooperative_approach: str  # "CA0001"
    authorizing_party: str  # ISO-2, the host Party
    authorized_on: date
    purposes: tuple[str, ...]  # subset of ("ndc", "oimp", "other")
    first_transfer_definition: str  # "issuance" | "authorization" | "first_international_transfer"
    authorized_parties: tuple[str, ...]  # ISO-2 using Parties
    authorized_entities: tuple[tuple[str, str], ...]  # (entity name, country of incorporation ISO-2)
    quantity_tco2e: int  # authorized quantity
    vintage_first: int
    vintage_last: int
    sector: str  # e.g. "Energy"
    activity_type: str  # e.g. "Solar PV"


@dataclass(frozen=True)
class ActionRecord:
    """One action on a serial block, as the ledger recorded it (domain.md §5.4 T3)."""

    action_date: date
    action_type: str  # a key of ACTION_TYPES
    authorization_id: str
    cooperative_approach: str
    registry_id: str  # originating registry ID, e.g. "JCMVN"
    first_transferring_party: str  # ISO-2
    serial_start: int
    serial_end: int
    vintage: int
    transferring_party: str | None
    acquiring_party: str | None
    purposes: tuple[str, ...]
    using_party_or_entity: str | None
    first_transfer: bool  # the first-transfer flag


@dataclass(frozen=True)
class HoldingRecord:
    """A block's position as at 31 December of the reporting year (domain.md §5.4 T4)."""

    cooperative_approach: str
    registry_id: str
    first_transferring_party: str
    serial_start: int
    serial_end: int
    vintage: int
    status: str  # a key of HOLDING_STATUSES
    holder_party: str | None


Totals = dict[tuple[str, int] | str, int]


@dataclass(frozen=True)
class AefReport:
    """The AEF report of `party` for calendar year `year` (domain.md §5.4).

    `tables` maps each name of TABLES to its rows, each row a dict in COLUMNS order. `totals` maps
    (action type code, vintage) to the T3 quantity of that type and vintage (only pairs that occur),
    plus the OVERALL_TOTALS keys, always present: "first_transfers" (actions carrying the
    first-transfer flag), "use_ndc", "use_oimp", "omge_cancellations" and "voluntary_cancellations".
    """

    party: str
    year: int
    tables: dict[str, list[dict[str, str | int]]]
    totals: Totals


# --- Validation -----------------------------------------------------------------------------------

_PARTY = re.compile(r"[A-Za-z]{2}")
_COOPERATIVE_APPROACH = re.compile(r"CA[0-9]{4}")
_REGISTRY = re.compile(r"[A-Za-z0-9]+")  # as serials.itmo_identifier: "-" separates its elements


def _check_int(value: object, what: str) -> int:
    # bool is an int subclass, but True is no serial number, year or quantity.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value


def _check_year(value: object, what: str) -> int:
    year = _check_int(value, what)
    if not 1000 <= year <= 9999:
        raise ValueError(f"{what} {year} is not a four-digit year")
    return year


def _check_date(value: object, what: str) -> date:
    # A datetime is a date too, but its isoformat() carries a time the AEF has no place for.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{what} must be a date, not {type(value).__name__}")
    return value


def _check_party(value: object, what: str) -> str:
    if not isinstance(value, str) or not _PARTY.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a two-letter ISO 3166-1 code")
    return value.upper()


def _optional_party(value: object, what: str) -> str | None:
    return None if value is None else _check_party(value, what)


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{what} is empty")
    return value


def _check_cooperative_approach(value: object, what: str) -> str:
    if not isinstance(value, str) or not _COOPERATIVE_APPROACH.fullmatch(value):
        raise ValueError(f"{what}: cooperative approach ID {value!r} is not CA + 4 digits (CA0001)")
    return value


def _check_purposes(value: object, what: str, *, required: bool) -> None:
    if not isinstance(value, tuple | list):
        raise TypeError(f"{what}: purposes must be a tuple, not {type(value).__name__}")
    unknown = [p for p in value if p not in PURPOSES]
    if unknown:
        raise ValueError(f"{what}: unknown purpose {unknown[0]!r}, expected one of {', '.join(PURPOSES)}")
    if required and not value:
        raise ValueError(f"{what}: an authorization states at least one purpose")


def _check_registry(value: object, what: str) -> None:
    if not isinstance(value, str) or not _REGISTRY.fullmatch(value):
        raise ValueError(f"{what}: registry ID {value!r} is not ASCII letters and digits")


def _check_block(start: object, end: object, what: str) -> SerialRange:
    first = _check_int(start, f"{what}: the block start")
    last = _check_int(end, f"{what}: the block end")
    if first < 1:
        raise ValueError(f"{what}: serial numbers start at 1, not {first}")
    if last < first:
        raise ValueError(f"{what}: serial block {first}–{last} ends before it starts (end < start)")
    return SerialRange(first, last)


def _check_authorization(record: AuthorizationRecord, i: int) -> None:
    if not isinstance(record, AuthorizationRecord):
        raise TypeError(f"authorization #{i} is a {type(record).__name__}, not an AuthorizationRecord")
    what = f"authorization #{i} ({record.authorization_id!r} v{record.version})"
    _check_text(record.authorization_id, f"{what}: the authorization ID")
    if _check_int(record.version, f"{what}: the version") < 1:
        raise ValueError(f"{what}: versions start at 1, not {record.version}")
    _check_cooperative_approach(record.cooperative_approach, what)
    _check_party(record.authorizing_party, f"{what}: the authorizing Party")
    _check_date(record.authorized_on, f"{what}: the date of authorization")
    _check_purposes(record.purposes, what, required=True)
    if record.first_transfer_definition not in FIRST_TRANSFER_DEFINITIONS:
        raise ValueError(
            f"{what}: unknown first transfer definition {record.first_transfer_definition!r}, "
            f"expected one of {', '.join(FIRST_TRANSFER_DEFINITIONS)}"
        )
    for party in record.authorized_parties:
        _check_party(party, f"{what}: authorized Party")
    for entity in record.authorized_entities:
        if not isinstance(entity, tuple | list) or len(entity) != 2:
            raise ValueError(f"{what}: an authorized entity is a (name, country of incorporation) pair")
        _check_text(entity[0], f"{what}: an authorized entity's name")
        _check_party(entity[1], f"{what}: country of incorporation of {entity[0]!r}")
    if _check_int(record.quantity_tco2e, f"{what}: the authorized quantity") < 1:
        # As the authorizations table's CHECK (quantity_tco2e > 0) in registry/models.py.
        raise ValueError(f"{what}: the authorized quantity {record.quantity_tco2e} is not positive")
    _check_year(record.vintage_first, f"{what}: the first vintage")
    _check_year(record.vintage_last, f"{what}: the last vintage")
    if record.vintage_last < record.vintage_first:
        raise ValueError(
            f"{what}: vintages {record.vintage_first}–{record.vintage_last} end before they start"
        )
    _check_text(record.sector, f"{what}: the sector")
    _check_text(record.activity_type, f"{what}: the activity type")


def _check_action(record: ActionRecord, i: int) -> None:
    if not isinstance(record, ActionRecord):
        raise TypeError(f"action #{i} is a {type(record).__name__}, not an ActionRecord")
    what = f"action #{i} ({record.action_type!r} of {record.serial_start}–{record.serial_end})"
    if record.action_type not in ACTION_TYPES:
        raise ValueError(
            f"{what}: unknown action type {record.action_type!r}, expected one of {', '.join(ACTION_TYPES)}"
        )
    _check_date(record.action_date, f"{what}: the action date")
    _check_text(record.authorization_id, f"{what}: the authorization ID")
    _check_cooperative_approach(record.cooperative_approach, what)
    _check_registry(record.registry_id, what)
    _check_party(record.first_transferring_party, f"{what}: the first transferring Party")
    _check_block(record.serial_start, record.serial_end, what)
    _check_year(record.vintage, f"{what}: the vintage")
    _optional_party(record.transferring_party, f"{what}: the transferring Party")
    _optional_party(record.acquiring_party, f"{what}: the acquiring Party")
    _check_purposes(record.purposes, what, required=False)
    if record.using_party_or_entity is not None and not isinstance(record.using_party_or_entity, str):
        raise TypeError(f"{what}: the using Party or entity must be a string or None")
    if not isinstance(record.first_transfer, bool):
        raise TypeError(f"{what}: the first-transfer flag must be a bool")
    if record.action_type == "first_transfer" and not record.first_transfer:
        raise ValueError(f"{what}: a first_transfer action must carry the first-transfer flag")


def _check_holding(record: HoldingRecord, i: int) -> None:
    if not isinstance(record, HoldingRecord):
        raise TypeError(f"holding #{i} is a {type(record).__name__}, not a HoldingRecord")
    what = f"holding #{i} ({record.serial_start}–{record.serial_end})"
    if record.status not in HOLDING_STATUSES:
        raise ValueError(
            f"{what}: unknown status {record.status!r}, expected one of {', '.join(HOLDING_STATUSES)}"
        )
    _check_cooperative_approach(record.cooperative_approach, what)
    _check_registry(record.registry_id, what)
    _check_party(record.first_transferring_party, f"{what}: the first transferring Party")
    _check_block(record.serial_start, record.serial_end, what)
    _check_year(record.vintage, f"{what}: the vintage")
    _optional_party(record.holder_party, f"{what}: the holding Party")


# --- Building the tables --------------------------------------------------------------------------


def _join(items: Iterable[str]) -> str:
    return "; ".join(items)


def _purposes(purposes: Iterable[str]) -> str:
    chosen = set(purposes)
    return _join(label for code, label in PURPOSES.items() if code in chosen)  # canonical order, once


def _flag(value: bool) -> str:
    return "Yes" if value else "No"


def _identifiers(
    cooperative_approach: str,
    registry_id: str,
    first_transferring_party: str,
    block: SerialRange,
    vintage: int,
) -> tuple[str, str]:
    def one(serial: int) -> str:
        return itmo_identifier(
            cooperative_approach=cooperative_approach,
            registry=registry_id,
            first_transferring_party=first_transferring_party,
            serial=serial,
            vintage=vintage,
        )

    return one(block.start), one(block.end)


def _in_force(record: AuthorizationRecord, year_end: date, latest: dict[str, int]) -> bool:
    return record.authorized_on <= year_end and record.version == latest.get(record.authorization_id)


def _authorization_row(record: AuthorizationRecord, in_force: bool) -> dict[str, str | int]:
    return dict(
        zip(
            COLUMNS[T2],
            (
                record.authorization_id,
                record.version,
                record.authorized_on.isoformat(),
                record.cooperative_approach,
                record.authorizing_party.upper(),
                _purposes(record.purposes),
                FIRST_TRANSFER_DEFINITIONS[record.first_transfer_definition],
                _join(p.upper() for p in record.authorized_parties),
                _join(name for name, _country in record.authorized_entities),
                record.sector,
                record.activity_type,
                METRIC,
                record.quantity_tco2e,
                record.vintage_first,
                record.vintage_last,
                _flag(in_force),
            ),
            strict=True,
        )
    )


def _action_row(record: ActionRecord) -> dict[str, str | int]:
    block = SerialRange(record.serial_start, record.serial_end)
    first, last = _identifiers(
        record.cooperative_approach,
        record.registry_id,
        record.first_transferring_party,
        block,
        record.vintage,
    )
    return dict(
        zip(
            COLUMNS[T3],
            (
                record.cooperative_approach,
                record.authorization_id,
                first,
                last,
                block.start,
                block.end,
                METRIC,
                block.quantity,
                record.first_transferring_party.upper(),
                record.vintage,
                record.action_date.isoformat(),
                ACTION_TYPES[record.action_type],
                (record.transferring_party or "").upper(),
                (record.acquiring_party or "").upper(),
                _purposes(record.purposes),
                record.using_party_or_entity or "",
                _flag(record.first_transfer),
            ),
            strict=True,
        )
    )


def _holding_row(record: HoldingRecord, year: int) -> dict[str, str | int]:
    block = SerialRange(record.serial_start, record.serial_end)
    first, last = _identifiers(
        record.cooperative_approach,
        record.registry_id,
        record.first_transferring_party,
        block,
        record.vintage,
    )
    return dict(
        zip(
            COLUMNS[T4],
            (
                record.cooperative_approach,
                first,
                last,
                block.start,
                block.end,
                METRIC,
                block.quantity,
                record.first_transferring_party.upper(),
                record.vintage,
                HOLDING_STATUSES[record.status],
                (record.holder_party or "").upper(),
                date(year, 12, 31).isoformat(),
            ),
            strict=True,
        )
    )


def _involves(record: ActionRecord, party: str) -> bool:
    parties = (record.first_transferring_party, record.transferring_party, record.acquiring_party)
    return any(p is not None and p.upper() == party for p in parties)


_ACTION_ORDER = {code: i for i, code in enumerate(ACTION_TYPES)}


def _action_key(record: ActionRecord) -> tuple:
    return (
        record.action_date,
        _ACTION_ORDER[record.action_type],
        record.cooperative_approach,
        record.registry_id.upper(),
        record.first_transferring_party.upper(),
        record.vintage,
        record.serial_start,
        record.serial_end,
    )


def compute_totals(actions: Iterable[ActionRecord]) -> Totals:
    """Quantities of `actions` by (action type, vintage), plus the OVERALL_TOTALS (domain.md §5.4, T9).

    Each action counts its block's quantity, end − start + 1. "first_transfers" sums the actions
    carrying the first-transfer flag, whatever their type: for OIMP the Party may define first
    transfer as authorization or issuance (§5.1), and a corresponding adjustment follows the first
    transfer only (§5.5). The other overall totals sum the actions of type use_ndc, use_oimp,
    omge_cancellation and voluntary_cancellation. The actions are not filtered or validated here;
    `build_report` calls this on the actions it kept.
    """
    totals: Totals = dict.fromkeys(OVERALL_TOTALS, 0)
    by_type: dict[tuple[str, int], int] = {}
    overall = {
        "use_ndc": "use_ndc",
        "use_oimp": "use_oimp",
        "omge_cancellation": "omge_cancellations",
        "voluntary_cancellation": "voluntary_cancellations",
    }
    for record in actions:
        quantity = record.serial_end - record.serial_start + 1
        key = (str(record.action_type), record.vintage)  # str(): the models' StrEnum members are welcome
        by_type[key] = by_type.get(key, 0) + quantity
        if record.first_transfer:
            totals["first_transfers"] += quantity
        if record.action_type in overall:
            totals[overall[record.action_type]] += quantity
    for key in sorted(by_type):
        totals[key] = by_type[key]
    return totals


def build_report(
    *,
    party: str,
    year: int,
    submitted_on: date,
    ndc_period: tuple[int, int],
    authorizations: Iterable[AuthorizationRecord],
    actions: Iterable[ActionRecord],
    holdings: Iterable[HoldingRecord],
) -> AefReport:
    """The AEF tables T1–T5 and totals of `party` for calendar year `year` (domain.md §5.4).

    Kept (the reporting cycle is the calendar year, §5.4):
    - T2/T5: authorizations by `party` (the authorizing Party) that are dated in `year` (every
      version: T2 has one row per authorization event) or still in force on 31 December, meaning
      dated earlier and not superseded by a later version dated on or before 31 December. The
      column "In force on 31 December" tells the two apart. T5 has one row per authorized entity
      of the kept authorizations.
    - T3: actions dated in `year` in which `party` is the first transferring, the transferring or
      the acquiring Party. Each row gives the first and last ITMO unique identifier of its block
      (`serials.itmo_identifier` with the block's start and end, §5.3), the block, the quantity
      (end − start + 1) in tCO2e and the first-transfer flag.
    - T4: `holdings` as given; the caller computes them as at 31 December and freezes them (§5.4).
    - T1: one row; its remarks note a reporting year outside `ndc_period`, which is allowed.

    `totals` are `compute_totals` of the T3 actions. Every record passed in is checked, kept or not:
    an unknown action type, purpose, first transfer definition or holding status, a block whose
    end is below its start, a malformed Party, cooperative approach or registry ID raise ValueError;
    a value of the wrong type raises TypeError. Rows are sorted, so the report does not depend on
    the order of the records.
    """
    party = _check_party(party, "the reporting Party")
    _check_year(year, "the reporting year")
    _check_date(submitted_on, "the submission date")
    if not isinstance(ndc_period, tuple | list) or len(ndc_period) != 2:
        raise ValueError(f"the NDC period {ndc_period!r} is not a (first year, last year) pair")
    ndc_first = _check_year(ndc_period[0], "the NDC period's first year")
    ndc_last = _check_year(ndc_period[1], "the NDC period's last year")
    if ndc_last < ndc_first:
        raise ValueError(f"the NDC period {ndc_first}–{ndc_last} ends before it starts")

    authorizations = list(authorizations)
    actions = list(actions)
    holdings = list(holdings)
    for i, authorization in enumerate(authorizations):
        _check_authorization(authorization, i)
    for i, action in enumerate(actions):
        _check_action(action, i)
    for i, holding in enumerate(holdings):
        _check_holding(holding, i)

    year_end = date(year, 12, 31)
    own = [a for a in authorizations if a.authorizing_party.upper() == party]
    latest: dict[str, int] = {}
    for record in own:
        if record.authorized_on <= year_end:
            latest[record.authorization_id] = max(record.version, latest.get(record.authorization_id, 0))
    kept_authorizations = sorted(
        (a for a in own if a.authorized_on.year == year or _in_force(a, year_end, latest)),
        key=lambda a: (a.authorized_on, a.authorization_id, a.version),
    )
    kept_actions = sorted(
        (a for a in actions if a.action_date.year == year and _involves(a, party)),
        key=_action_key,
    )
    kept_holdings = sorted(
        holdings,
        key=lambda h: (
            h.cooperative_approach,
            h.registry_id.upper(),
            h.first_transferring_party.upper(),
            h.vintage,
            h.serial_start,
            h.serial_end,
            h.status,
            h.holder_party or "",
        ),
    )

    remarks = []
    if not ndc_first <= year <= ndc_last:
        remarks.append(f"Reporting year {year} lies outside the NDC period {ndc_first}–{ndc_last}")
    submission = dict(
        zip(
            COLUMNS[T1],
            (party, year, ndc_first, ndc_last, submitted_on.isoformat(), _join(remarks)),
            strict=True,
        )
    )
    entities = [
        dict(
            zip(
                COLUMNS[T5],
                (a.authorization_id, a.version, a.cooperative_approach, name, country.upper()),
                strict=True,
            )
        )
        for a in kept_authorizations
        for name, country in sorted(a.authorized_entities)
    ]
    tables: dict[str, list[dict[str, str | int]]] = {
        T1: [submission],
        T2: [_authorization_row(a, _in_force(a, year_end, latest)) for a in kept_authorizations],
        T3: [_action_row(a) for a in kept_actions],
        T4: [_holding_row(h, year) for h in kept_holdings],
        T5: entities,
    }
    return AefReport(party=party, year=year, tables=tables, totals=compute_totals(kept_actions))


# --- Output ---------------------------------------------------------------------------------------


def _safe_cell(value: str | int) -> str | int:
    """A cell a spreadsheet will never run as a formula (OWASP CSV injection), for §5.4's exports.

    Text starting with = + - @ tab, carriage return or NUL gets a leading single quote; numbers and
    other text are unchanged: the one rule of poa_manager/tabular.py (pure, like this module).
    """
    return neutralise(value)


def _totals_payload(totals: Totals) -> dict[str, object]:
    rows = [
        {"action_type": key[0], "vintage": key[1], "quantity": value}
        for key, value in sorted((k, v) for k, v in totals.items() if isinstance(k, tuple))
    ]
    payload: dict[str, object] = {key: totals[key] for key in OVERALL_TOTALS}
    payload["by_action_type_and_vintage"] = rows
    return payload


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def report_json(report: AefReport) -> str:
    """The report as deterministic JSON (domain.md §5.4): sorted keys, ISO dates, no formula quoting.

    Top-level keys: "party", "year", "columns" (COLUMNS, since sorted keys lose the column order of
    each row), "tables" (as in the report) and "totals", whose OVERALL_TOTALS keys hold integers
    and whose "by_action_type_and_vintage" is a list of {"action_type", "vintage", "quantity"}
    sorted by action type and vintage. The same report always gives the same string.
    """
    payload = {
        "party": report.party,
        "year": report.year,
        "columns": COLUMNS,
        "tables": report.tables,
        "totals": _totals_payload(report.totals),
    }
    return json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False, default=_json_default)


def report_csv(report: AefReport) -> bytes:
    """The five tables in one UTF-8 CSV (domain.md §5.4), each table's header row before its rows.

    Every line starts with a "table" column holding the table name (TABLES), then that table's
    COLUMNS; the header line of a table is "table" followed by its column names. Tables follow in
    TABLES order and rows in report order. Lines end in CRLF (RFC 4180), so a field holding a line
    break is always quoted. Text cells that a spreadsheet would run as a formula get a leading "'"
    (`_safe_cell`).
    """
    buffer = io.StringIO()
    # RFC 4180 line ends: with "\n" alone the csv module would leave a field holding "\r" unquoted,
    # and a reader would split the row there.
    writer = csv.writer(buffer, lineterminator="\r\n")
    for name in TABLES:
        writer.writerow(["table", *COLUMNS[name]])
        for row in report.tables[name]:
            writer.writerow([name, *(_safe_cell(row[column]) for column in COLUMNS[name])])
    return buffer.getvalue().encode("utf-8")


def report_xlsx(report: AefReport) -> bytes:
    """The report as an XLSX workbook, one sheet per table named as in TABLES (domain.md §5.4).

    Each sheet has a bold header row of COLUMNS, then the table's rows. Written in openpyxl's
    write-only mode (rows stream to the file); text cells are formula-protected as in the CSV
    (`_safe_cell`), numbers stay numbers. (XML parsers read a carriage return inside text back as
    a line feed, so "\\r" is the one character an XLSX cell does not return as written.)
    """
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for name in TABLES:
        sheet = workbook.create_sheet(name)
        header = []
        for column in COLUMNS[name]:
            cell = WriteOnlyCell(sheet, value=column)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in report.tables[name]:
            sheet.append([_safe_cell(row[column]) for column in COLUMNS[name]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
