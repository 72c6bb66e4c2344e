"""Inclusion criteria of a programme and the check of a candidate site against them. Pure Python."""

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from poa_manager.geo import Point, contains, validate_boundary

_E = TypeVar("_E", bound=Enum)

# --- Enumerations -------------------------------------------------------------------------------


class CriterionKind(StrEnum):
    """What a criterion checks; the letters are those of the list in domain.md §1.4."""

    location_in_boundary = "location_in_boundary"  # (a)
    technology_allowed = "technology_allowed"  # (c)
    capacity_range = "capacity_range"  # (f), (k); size limits of §1.6
    commissioning_window = "commissioning_window"  # (d)
    meter_accuracy = "meter_accuracy"  # domain.md §7
    documents_present = "documents_present"  # (c) certificates, (g) EIA, stakeholder consultation
    methodology_applicability = "methodology_applicability"  # (e)
    no_double_counting = "no_double_counting"  # (b)
    debundling = "debundling"  # (l)
    financial_support_declared = "financial_support_declared"  # (h)


class Outcome(StrEnum):
    # needs_review: a fact is missing or unclear, so a person decides; it never counts as a pass.
    passed = "passed"
    failed = "failed"
    needs_review = "needs_review"


class ConflictKind(StrEnum):
    """Cross-checks the database layer runs before an assessment (domain.md §1.4 b, §1.9)."""

    duplicate_meter_serial = "duplicate_meter_serial"
    duplicate_equipment_serial = "duplicate_equipment_serial"
    nearby_same_technology = "nearby_same_technology"
    permanent_exclusion = "permanent_exclusion"
    other_registry = "other_registry"


class Scale(StrEnum):
    # A small-scale PoA holds only small-scale CPAs (domain.md §1.1); limits in §1.6.
    small_scale = "small_scale"
    microscale = "microscale"
    large_scale = "large_scale"


_CONFLICT_LABELS = {
    ConflictKind.duplicate_meter_serial: "meter serial already registered",
    ConflictKind.duplicate_equipment_serial: "equipment serial already registered",
    ConflictKind.nearby_same_technology: "site of the same technology nearby",
    ConflictKind.permanent_exclusion: "excluded earlier and never re-includable",
    ConflictKind.other_registry: "registered in another programme or registry",
}


# --- Facts about a candidate site ---------------------------------------------------------------


@dataclass(frozen=True)
class MeterFacts:
    serial: str
    accuracy_class: str | None = None  # as on the nameplate, e.g. "0.2S"
    calibrated_on: date | None = None
    calibration_valid_until: date | None = None


@dataclass(frozen=True)
class Conflict:
    """A clash the database layer found between the candidate and another registration."""

    kind: ConflictKind
    detail: str
    other_reference: str | None = None
    other_registry: str | None = None
    distance_m: Decimal | None = None  # for nearby_same_technology

    def describe(self) -> str:
        # Name the other registration so the coordinator can look it up (quality.md A1 row 13).
        text = f"{_CONFLICT_LABELS[ConflictKind(self.kind)]}: {self.detail}"
        other = " in ".join(part for part in (self.other_reference, self.other_registry) if part)
        if other:
            text += f" (other registration {other})"
        if self.distance_m is not None:
            text += f", {_number(self.distance_m)} m away"
        return text


@dataclass(frozen=True)
class RelatedActivity:
    """A registered or included small-scale activity the candidate might be de-bundled from.

    The database layer lists the registered or included activities near the candidate; the
    de-bundling criterion decides which of them count (domain.md §1.6).
    """

    reference: str
    registry: str | None
    same_participant: bool  # same CME or implementer
    technology: str | None
    distance_m: Decimal | None  # between the closest points of the two sites' boundaries
    capacity_kw: Decimal | None
    registered_on: date | None = None


@dataclass(frozen=True)
class Declarations:
    """What the participant declared about public financial support (domain.md §1.4 h, §4.5)."""

    public_support: bool | None = None  # None: no declaration recorded
    funding_sources: tuple[str, ...] = ()
    oda_not_diverted: bool | None = None  # public funding is not a diversion of development aid
    support_share: Decimal | None = None  # public support ÷ initial investment, 0 to 1


@dataclass(frozen=True)
class Candidate:
    """The facts about one site that the criteria look at; None means "not recorded"."""

    reference: str
    location: Point | None = None
    country_code: str | None = None  # ISO 3166-1, e.g. "VN"
    admin_code: str | None = None  # ISO 3166-2 province, e.g. "VN-44"
    technology: str | None = None
    capacity_kw: Decimal | None = None  # installed or rated output, kW(e)
    commissioned_on: date | None = None
    meters: tuple[MeterFacts, ...] = ()
    equipment_serials: tuple[str, ...] = ()
    equipment_models: tuple[str, ...] = ()
    document_kinds: frozenset[str] = frozenset()
    declarations: Declarations = Declarations()
    applicability_answers: Mapping[str, bool] = field(default_factory=dict)
    # None means the cross-checks were not run, which must never read as "no conflicts".
    conflicts: tuple[Conflict, ...] | None = None
    related_activities: tuple[RelatedActivity, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.capacity_kw, float):
            raise TypeError("capacity_kw must be a Decimal, not a float")
        for name in ("meters", "equipment_serials", "equipment_models"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "document_kinds", frozenset(self.document_kinds))
        for name in ("conflicts", "related_activities"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class Boundary:
    """A programme's geographic boundary: a GeoJSON Polygon/MultiPolygon, or country and province codes.

    domain.md §1.2 item 2: a municipality, region, country or several countries.
    """

    geometry: Mapping[str, Any] | None = None
    countries: frozenset[str] = frozenset()
    admin_areas: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "countries", frozenset(_code(code) for code in self.countries))
        object.__setattr__(self, "admin_areas", frozenset(_code(code) for code in self.admin_areas))
        if (self.geometry is None) == (not (self.countries or self.admin_areas)):
            raise ValueError("a boundary is either a GeoJSON geometry or a list of country/province codes")

    @classmethod
    def from_geojson(cls, geometry: Mapping[str, Any]) -> "Boundary":
        return cls(geometry=geometry)

    @classmethod
    def from_codes(cls, codes: Iterable[str]) -> "Boundary":
        """Country codes ("VN") and ISO 3166-2 province codes ("VN-44") in one list."""
        codes = [_code(code) for code in codes]
        # ISO 3166-2 subdivision codes always hold a hyphen; country codes never do.
        return cls(
            countries=frozenset(code for code in codes if "-" not in code),
            admin_areas=frozenset(code for code in codes if "-" in code),
        )

    def problems(self) -> list[str]:
        return validate_boundary(self.geometry) if self.geometry is not None else []


def _code(code: Any) -> str:
    if not isinstance(code, str) or not code.strip():
        raise ValueError(f"{code!r} is not a country or province code")
    return code.strip().upper()


# --- Criteria and their parameters --------------------------------------------------------------


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a criterion kind, with the text a criteria editor shows."""

    name: str
    description: str
    parse: Callable[[Any], Any] = field(repr=False, compare=False)
    default: Any = REQUIRED
    unconfirmed: bool = False  # an [U] rule of domain.md: a default to check before relying on it

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _decimal(value: Any) -> Decimal:
    # Floats are refused: a limit stored as 0.1 would not be the 0.1 the coordinator typed.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f'expected a number written as text or an integer, such as "15000", not {value!r}')
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _positive_decimal(value: Any) -> Decimal:
    number = _decimal(value)
    if number <= 0:
        raise ValueError(f"must be greater than zero, not {number}")
    return number


def _fraction(value: Any) -> Decimal:
    number = _decimal(value)
    if not 0 <= number <= 1:
        raise ValueError(f"must be a fraction between 0 and 1, not {number}")
    return number


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a whole number of at least 1, not {value!r}")
    return value


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a date such as 2025-03-31, not {value!r}") from None


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, not {value!r}")
    return value


def _texts(value: Any) -> tuple[str, ...]:
    # A bare string would otherwise be read as a list of its letters.
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"expected a list of texts, not {value!r}")
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError("every item must be a non-empty text")
    items = [item.strip() for item in value]
    return tuple(sorted(items) if isinstance(value, set | frozenset) else items)


def _non_empty_texts(value: Any) -> tuple[str, ...]:
    items = _texts(value)
    if not items:
        raise ValueError("needs at least one item")
    return items


def _member(enum: type[_E], value: Any) -> _E | None:
    try:
        return enum(value)
    except ValueError:
        return None


def _conflict_kinds(value: Any) -> tuple[ConflictKind, ...]:
    kinds = [(item, _member(ConflictKind, item)) for item in _texts(value)]
    unknown = [item for item, kind in kinds if kind is None]
    if unknown:
        raise ValueError(f"unknown conflict kind {unknown[0]!r}; expected one of {', '.join(ConflictKind)}")
    return tuple(kind for _, kind in kinds if kind is not None)


def _choice(*options: Scale) -> Callable[[Any], Scale]:
    def parse(value: Any) -> Scale:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, not {value!r}")
        return Scale(value)

    return parse


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else parse(value)


_UNCONFIRMED = "Unconfirmed [U]: check before relying on it. "
_SMALL_SCALE_LIMIT = ParamSpec(
    "small_scale_limit_kw",
    "Small-scale limit in kW(e): SSC Type I renewables up to 15 MW installed or rated output "
    "(domain.md §1.6, confirmed).",
    _positive_decimal,
    Decimal("15000"),
)
_MICROSCALE_LIMIT = ParamSpec(
    "microscale_limit_kw",
    _UNCONFIRMED
    + "Microscale limit in kW(e), about 5 MW for renewables (Tool 19 thresholds, domain.md §1.6).",
    _positive_decimal,
    Decimal("5000"),
    unconfirmed=True,
)

PARAMETERS: Mapping[CriterionKind, tuple[ParamSpec, ...]] = MappingProxyType(
    {
        CriterionKind.location_in_boundary: (
            ParamSpec(
                "require_coordinates",
                "With a boundary given as codes, also ask for coordinates, so the site is located "
                "unambiguously (quality.md A1 row 13).",
                _bool,
                False,
            ),
        ),
        CriterionKind.technology_allowed: (
            ParamSpec("technologies", "Technologies the programme allows.", _non_empty_texts),
            ParamSpec(
                "approved_models",
                "Equipment models on the approved list; leave empty to skip the model check.",
                _optional(_non_empty_texts),
                None,
            ),
        ),
        CriterionKind.capacity_range: (
            ParamSpec(
                "min_kw", "Smallest capacity the programme accepts, kW.", _optional(_positive_decimal), None
            ),
            ParamSpec(
                "max_kw", "Largest capacity the programme accepts, kW.", _optional(_positive_decimal), None
            ),
            ParamSpec(
                "scale",
                "Which size limit applies: small_scale, microscale or large_scale (none).",
                _choice(*Scale),
                Scale.small_scale,
            ),
            _SMALL_SCALE_LIMIT,
            _MICROSCALE_LIMIT,
        ),
        CriterionKind.commissioning_window: (
            ParamSpec(
                "not_before", "Earliest commissioning date, e.g. the programme start.", _optional(_date), None
            ),
            ParamSpec("not_after", "Latest commissioning date.", _optional(_date), None),
            ParamSpec(
                "allow_future",
                "Accept a planned commissioning date after the check date without review.",
                _bool,
                False,
            ),
        ),
        CriterionKind.meter_accuracy: (
            ParamSpec(
                "accepted_classes", "Accepted meter accuracy classes, e.g. 0.2S, 0.5S.", _non_empty_texts
            ),
            ParamSpec("min_meters", "Fewest meters a site must have.", _positive_int, 1),
            ParamSpec(
                "calibration_interval_days",
                "Calibration validity used when a meter has no recorded expiry; empty: ask for the expiry.",
                _optional(_positive_int),
                None,
            ),
        ),
        CriterionKind.documents_present: (
            ParamSpec("document_kinds", "Document kinds that must be uploaded.", _non_empty_texts),
        ),
        CriterionKind.methodology_applicability: (
            ParamSpec(
                "conditions", "Applicability condition codes that must be answered yes.", _non_empty_texts
            ),
        ),
        CriterionKind.no_double_counting: (
            ParamSpec(
                "conflict_kinds",
                "Conflicts that fail the criterion; permanent_exclusion must stay (domain.md §1.9).",
                _conflict_kinds,
                tuple(kind for kind in ConflictKind if kind is not ConflictKind.nearby_same_technology),
            ),
            ParamSpec(
                "review_kinds",
                "Conflicts that send the site to review instead. Nearness alone does not prove a "
                "double count (quality.md A1 row 13 pairs it with the same meter).",
                _conflict_kinds,
                (ConflictKind.nearby_same_technology,),
            ),
            ParamSpec(
                "nearby_radius_m",
                _UNCONFIRMED + "Distance in metres within which a site of the same technology is a "
                "conflict; no source sets it (quality.md A1 row 13 says 'X m').",
                _positive_decimal,
                Decimal("100"),
                unconfirmed=True,
            ),
        ),
        CriterionKind.debundling: (
            ParamSpec(
                "radius_m",
                _UNCONFIRMED + "Metres between the closest points of two activities within which an "
                "activity of the same participant and technology counts (domain.md §1.6: 1 km).",
                _positive_decimal,
                Decimal("1000"),
                unconfirmed=True,
            ),
            ParamSpec(
                "scale",
                "small_scale or microscale.",
                _choice(Scale.small_scale, Scale.microscale),
                Scale.small_scale,
            ),
            _SMALL_SCALE_LIMIT,
            _MICROSCALE_LIMIT,
            ParamSpec(
                "lookback_years",
                _UNCONFIRMED + "Count only activities registered this many years before the check "
                "(the 2-year window of the original SSC rules; not in domain.md). Empty: no limit.",
                _optional(_positive_int),
                None,
                unconfirmed=True,
            ),
        ),
        CriterionKind.financial_support_declared: (
            ParamSpec(
                "require_oda_confirmation",
                _UNCONFIRMED + "With public funding, ask for a declaration that it does not divert "
                "official development assistance (domain.md §1.4 h).",
                _bool,
                True,
                unconfirmed=True,
            ),
            ParamSpec(
                "max_support_share",
                "Largest share of the initial investment public support may cover, 0 to 1; JCM model "
                "projects: 0.5 (domain.md §4.5). Empty: no limit.",
                _optional(_fraction),
                None,
            ),
        ),
    }
)


# Rules that tie two parameters of one kind together, checked once each parameter is valid.


def _capacity_rules(values: Mapping[str, Any]) -> list[str]:
    low, high = values["min_kw"], values["max_kw"]
    if low is not None and high is not None and low > high:
        return [f"min_kw {low} is above max_kw {high}"]
    if values["scale"] is Scale.large_scale and low is None and high is None:
        return ["with scale large_scale, set min_kw, max_kw or both"]
    return []


def _window_rules(values: Mapping[str, Any]) -> list[str]:
    start, end = values["not_before"], values["not_after"]
    if start is None and end is None:
        return ["set not_before, not_after or both"]
    if start is not None and end is not None and start > end:
        return [f"not_before {start} is after not_after {end}"]
    return []


def _double_counting_rules(values: Mapping[str, Any]) -> list[str]:
    # An excluded site can never be re-included in any programme (domain.md §1.9), so no
    # programme may switch that check off.
    both = sorted(set(values["conflict_kinds"]) & set(values["review_kinds"]))
    problems = [f"{kind} is in both conflict_kinds and review_kinds" for kind in both]
    if ConflictKind.permanent_exclusion not in values["conflict_kinds"]:
        problems.append(
            "permanent_exclusion must stay in conflict_kinds: an excluded site is never re-included"
        )
    return problems


_PARAM_RULES: dict[CriterionKind, Callable[[Mapping[str, Any]], list[str]]] = {
    CriterionKind.capacity_range: _capacity_rules,
    CriterionKind.commissioning_window: _window_rules,
    CriterionKind.no_double_counting: _double_counting_rules,
}


def _resolve(kind: CriterionKind, params: Any) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(params, Mapping):
        return {}, ["params must be an object of named parameters"]
    specs = PARAMETERS[kind]
    known = {spec.name for spec in specs}
    problems = [f"unknown parameter {name!r}" for name in params if name not in known]
    # Defaults are filled in here rather than stored; the reasons quote the limits actually applied.
    values: dict[str, Any] = {}
    for spec in specs:
        if spec.name not in params:
            if spec.required:
                problems.append(f"{spec.name} is required")
            values[spec.name] = spec.default
            continue
        try:
            values[spec.name] = spec.parse(params[spec.name])
        except ValueError as error:
            problems.append(f"{spec.name}: {error}")
    if problems or kind not in _PARAM_RULES:
        return values, problems
    return values, _PARAM_RULES[kind](values)


def _normalised(kind: CriterionKind, params: Mapping[str, Any]) -> dict[str, Any]:
    # Valid values take their typed form so stored and typed criteria compare equal; invalid ones
    # are kept as given for validate_criteria to report.
    specs = {spec.name: spec for spec in PARAMETERS[kind]}
    normalised = {}
    for name, value in params.items():
        try:
            normalised[name] = specs[name].parse(value) if name in specs else value
        except ValueError:
            normalised[name] = value
    return normalised


@dataclass(frozen=True)
class Criterion:
    """One inclusion criterion as the PoA-DD states it; codes such as "EC-03" follow its text."""

    code: str
    description: str
    kind: CriterionKind
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kind = _member(CriterionKind, self.kind)
        if kind is None:
            raise ValueError(f"unknown criterion kind {self.kind!r}")
        if not isinstance(self.params, Mapping):
            raise TypeError("params must be a mapping")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "params", MappingProxyType(_normalised(self.kind, self.params)))


def effective_params(criterion: Criterion) -> dict[str, Any]:
    """The criterion's parameters with defaults filled in. Raises ValueError if any is invalid."""
    values, problems = _resolve(criterion.kind, criterion.params)
    if problems:
        raise ValueError("; ".join(problems))
    return values


def validate_criteria(criteria: Iterable[Criterion | Mapping[str, Any]]) -> dict[str, list[str]]:
    """Problems per criterion code (or "#position" without one), for a criteria editor; {} if none.

    Accepts Criterion objects or their stored form (see criteria_to_data).
    """
    problems: dict[str, list[str]] = {}
    codes: Counter[str] = Counter()
    for position, item in enumerate(criteria, 1):
        if isinstance(item, Criterion):
            code, description, kind, params = item.code, item.description, item.kind, item.params
        elif isinstance(item, Mapping):
            code, description = item.get("code"), item.get("description")
            kind, params = item.get("kind"), item.get("params", {})
        else:
            problems[f"#{position}"] = ["not a criterion"]
            continue
        found = []
        if isinstance(code, str) and code.strip():
            key = code.strip()
            codes[key] += 1
            if code != key:
                found.append("the code has spaces at either end")
        else:
            key = f"#{position}"
            found.append("the code is missing")
        if not isinstance(description, str) or not description.strip():
            found.append("the description is missing")
        if (known_kind := _member(CriterionKind, kind)) is not None:
            found.extend(_resolve(known_kind, params)[1])
        else:
            found.append(f"unknown kind {kind!r}; expected one of {', '.join(CriterionKind)}")
        if found:
            problems.setdefault(key, []).extend(found)
    for code, count in codes.items():
        if count > 1:
            problems.setdefault(code, []).insert(0, f"the code {code} is used by {count} criteria")
    return problems


def _json_safe(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(_json_safe(item) for item in value)
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    return value


def criteria_to_data(criteria: Iterable[Criterion]) -> list[dict[str, Any]]:
    """The JSON-safe stored form: decimals and dates as strings, lists for tuples."""
    return [
        {
            "code": criterion.code,
            "description": criterion.description,
            "kind": criterion.kind.value,
            "params": _json_safe(criterion.params),
        }
        for criterion in criteria
    ]


def criteria_from_data(data: Iterable[Mapping[str, Any]]) -> tuple[Criterion, ...]:
    """Criteria from their stored form. Raises ValueError on a malformed entry or an unknown kind.

    Parameter problems do not raise: validate_criteria reports them and assess gives needs_review.
    """
    criteria = []
    for position, item in enumerate(data, 1):
        if not isinstance(item, Mapping):
            raise ValueError(f"criterion {position} is not an object")
        extra = set(item) - {"code", "description", "kind", "params"}
        if extra:
            raise ValueError(f"criterion {position} has unknown fields: {', '.join(sorted(extra))}")
        code, description = item.get("code"), item.get("description")
        if not isinstance(code, str) or not isinstance(description, str):
            raise ValueError(f"criterion {position} needs a code and a description")
        params = item.get("params", {})
        if not isinstance(params, Mapping):
            raise ValueError(f"criterion {code}: params must be an object")
        criteria.append(Criterion(code, description, item.get("kind"), params))
    return tuple(criteria)


# --- Results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionResult:
    code: str
    description: str
    kind: CriterionKind
    outcome: Outcome
    observed: str  # the fact looked at, e.g. "capacity 16 000 kW"
    reason: str  # why it passed, failed or needs review, in the coordinator's words


@dataclass(frozen=True)
class EligibilityReport:
    results: tuple[CriterionResult, ...]

    @property
    def failed(self) -> list[CriterionResult]:
        return [result for result in self.results if result.outcome is Outcome.failed]

    @property
    def to_review(self) -> list[CriterionResult]:
        return [result for result in self.results if result.outcome is Outcome.needs_review]

    @property
    def eligible(self) -> bool:
        # No criteria is not a pass: the programme's criteria are missing (fail closed).
        return bool(self.results) and all(result.outcome is Outcome.passed for result in self.results)

    @property
    def needs_review(self) -> bool:
        return not self.eligible and not self.failed

    @property
    def summary(self) -> str:
        if not self.results:
            return "Needs review: the programme has no eligibility criteria to check."
        total = _count(len(self.results), "criterion", "criteria")
        failed, review = self.failed, self.to_review
        review_part = f"{len(review)} {'needs' if len(review) == 1 else 'need'} review ({_codes(review)})"
        if failed:
            extra = f"; {review_part}" if review else ""
            return f"Not eligible: {len(failed)} of {total} failed ({_codes(failed)}){extra}."
        if review:
            return f"Needs review: {len(review)} of {total} {review_part.split(' ', 1)[1]}; none failed."
        return (
            f"Eligible: all {total} passed." if len(self.results) > 1 else "Eligible: the 1 criterion passed."
        )

    def to_data(self) -> list[dict[str, str]]:
        return [{name: str(value) for name, value in vars(result).items()} for result in self.results]


def _codes(results: list[CriterionResult]) -> str:
    return ", ".join(result.code for result in results)


# --- Wording helpers ----------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    """15000 → "15 000", 250.50 → "250.5": grouped with spaces as in the coordinators' documents."""
    return format(value.normalize(), ",f").replace(",", " ")


def _kw(value: Decimal) -> str:
    return f"{_number(value)} kW"


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _listing(items: Iterable[str], limit: int = 6, separator: str = ", ") -> str:
    items = list(items)
    if len(items) > limit:
        return f"{separator.join(items[:limit])} and {len(items) - limit} more"
    return separator.join(items)


def _fold(text: str | None) -> str:
    return (text or "").strip().casefold()


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# --- One check per criterion kind ---------------------------------------------------------------


class _Verdict(NamedTuple):
    outcome: Outcome
    observed: str
    reason: str


@dataclass(frozen=True)
class _Context:
    boundary: Boundary | None
    checked_on: date


def _passed(observed: str, reason: str) -> _Verdict:
    return _Verdict(Outcome.passed, observed, reason)


def _failed(observed: str, reason: str) -> _Verdict:
    return _Verdict(Outcome.failed, observed, reason)


def _review(observed: str, reason: str) -> _Verdict:
    return _Verdict(Outcome.needs_review, observed, reason)


def _verdict(observed: str, failures: list[str], reviews: list[str], passed_reason: str) -> _Verdict:
    """A failure outweighs a missing fact: more facts could not turn a failure into a pass."""
    if failures:
        return _failed(observed, "; ".join(failures))
    if reviews:
        return _review(observed, "; ".join(reviews))
    return _passed(observed, passed_reason)


def _check_location(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    boundary = context.boundary
    if boundary is None:
        return _review(
            "no programme boundary", "the programme has no boundary recorded to check the site against"
        )
    if boundary.geometry is None:
        return _location_in_codes(candidate, boundary, params["require_coordinates"])
    if candidate.location is None:
        return _review("no coordinates", "the site has no coordinates recorded")
    observed = f"coordinates {candidate.location}"
    problems = validate_boundary(boundary.geometry)
    if problems:
        return _review(observed, f"the programme boundary is not valid GeoJSON: {problems[0]}")
    if contains(boundary.geometry, candidate.location):
        return _passed(observed, f"the site at {candidate.location} is inside the programme boundary")
    return _failed(observed, f"the site at {candidate.location} is outside the programme boundary")


def _location_in_codes(candidate: Candidate, boundary: Boundary, require_coordinates: bool) -> _Verdict:
    country = candidate.country_code.strip().upper() if candidate.country_code else None
    admin = candidate.admin_code.strip().upper() if candidate.admin_code else None
    facts = [f"country {country}" if country else "", f"province {admin}" if admin else ""]
    observed = ", ".join(fact for fact in facts if fact) or "no country or province code"
    listed = f"the programme boundary ({_listing(sorted(boundary.countries | boundary.admin_areas))})"
    # A code list is a union: a site qualifies through its country or through its province.
    reviews = []
    if require_coordinates and candidate.location is None:
        reviews.append("the site has no coordinates recorded")
    # ISO 3166-2 codes start with the country code, so a mismatch is a data-entry error.
    if country and admin and not admin.startswith(country + "-"):
        reviews.append(f"province {admin} is not in country {country}")
    if (country and country in boundary.countries) or (admin and admin in boundary.admin_areas):
        return _verdict(observed, [], reviews, f"{observed} is inside {listed}")
    if (country is None and boundary.countries) or (admin is None and boundary.admin_areas):
        missing = "country" if country is None and boundary.countries else "province"
        return _review(observed, "; ".join([*reviews, f"the site has no {missing} code recorded"]))
    return _failed(observed, f"{observed} is outside {listed}")


def _check_technology(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    technology = candidate.technology
    if not technology:
        return _review("no technology", "the site has no technology recorded")
    observed = f"technology {technology}"
    allowed = params["technologies"]
    if _fold(technology) not in {_fold(item) for item in allowed}:
        return _failed(
            observed, f"technology {technology} is not one the programme allows ({_listing(allowed)})"
        )
    approved = params["approved_models"]
    if approved is None:
        return _passed(observed, f"technology {technology} is allowed")
    # domain.md §1.4 c: the equipment model must be on the approved list.
    observed += f", models {_listing(candidate.equipment_models) or 'none recorded'}"
    if not candidate.equipment_models:
        return _review(observed, "no equipment models are recorded to compare with the approved list")
    unapproved = [
        model for model in candidate.equipment_models if _fold(model) not in {_fold(a) for a in approved}
    ]
    if unapproved:
        return _failed(observed, f"equipment model {_listing(unapproved)} is not on the approved list")
    return _passed(observed, f"technology {technology} is allowed and every equipment model is approved")


def _scale_limit(params: dict[str, Any]) -> tuple[str, Decimal] | None:
    if params["scale"] is Scale.small_scale:
        return "small-scale", params["small_scale_limit_kw"]
    if params["scale"] is Scale.microscale:
        return "microscale", params["microscale_limit_kw"]
    return None


def _check_capacity(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    capacity = candidate.capacity_kw
    if capacity is None:
        return _review("no capacity", "the site has no installed capacity recorded")
    observed = f"capacity {_kw(capacity)}"
    if capacity <= 0:
        return _review(observed, f"{observed} is not a plausible installed capacity; check the site data")
    failures, within = [], []
    # domain.md §1.6: "up to 15 MW", so the limit itself is allowed; it holds for the whole
    # crediting period (§1.4 k), which monitoring re-checks.
    limit = _scale_limit(params)
    if limit is not None:
        label, value = limit
        if capacity > value:
            failures.append(f"capacity {_kw(capacity)} exceeds the {label} limit of {_kw(value)}")
        within.append(f"the {label} limit of {_kw(value)}")
    if params["min_kw"] is not None:
        if capacity < params["min_kw"]:
            failures.append(
                f"capacity {_kw(capacity)} is below the programme minimum of {_kw(params['min_kw'])}"
            )
        within.append(f"the programme minimum of {_kw(params['min_kw'])}")
    if params["max_kw"] is not None:
        if capacity > params["max_kw"]:
            failures.append(
                f"capacity {_kw(capacity)} exceeds the programme maximum of {_kw(params['max_kw'])}"
            )
        within.append(f"the programme maximum of {_kw(params['max_kw'])}")
    passed_reason = (
        f"capacity {_kw(capacity)} respects {' and '.join(within)}" if within else "no size limit set"
    )
    return _verdict(observed, failures, [], passed_reason)


def _check_commissioning(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    day = candidate.commissioned_on
    if day is None:
        return _review("no commissioning date", "the site has no commissioning date recorded")
    observed = f"commissioned on {day.isoformat()}"
    start, end = params["not_before"], params["not_after"]
    failures, reviews = [], []
    if start is not None and day < start:
        failures.append(
            f"commissioning on {day.isoformat()} is before the earliest allowed date {start.isoformat()}"
        )
    if end is not None and day > end:
        failures.append(
            f"commissioning on {day.isoformat()} is after the latest allowed date {end.isoformat()}"
        )
    # domain.md §1.4 d: the date is checked against documentary evidence, which a future date lacks.
    if day > context.checked_on and not params["allow_future"]:
        reviews.append(
            f"the commissioning date is after the check date {context.checked_on.isoformat()}; confirm it"
        )
    window = " and ".join(
        text
        for text in (start and f"on or after {start.isoformat()}", end and f"on or before {end.isoformat()}")
        if text
    )
    return _verdict(observed, failures, reviews, f"commissioning on {day.isoformat()} is {window}")


def _accuracy_class(text: str) -> str:
    return re.sub(r"\s+", "", text).upper().removeprefix("CLASS")


def _meter_problems(
    meter: MeterFacts, accepted: tuple[str, ...], interval: int | None, on: date
) -> tuple[list[str], list[str]]:
    """(failures, reviews) for one meter."""
    name = f"meter {meter.serial}"
    failures, reviews = [], []
    if not meter.accuracy_class:
        reviews.append(f"{name} has no accuracy class recorded")
    elif _accuracy_class(meter.accuracy_class) not in {_accuracy_class(item) for item in accepted}:
        failures.append(f"{name} is class {meter.accuracy_class}, not one of {_listing(accepted)}")
    valid_until = meter.calibration_valid_until
    if valid_until is None and interval is not None and meter.calibrated_on is not None:
        valid_until = meter.calibrated_on + timedelta(days=interval)
    # domain.md §7: readings from an uncalibrated period lose the maximum permissible error, so a
    # site is not included with a meter whose calibration has lapsed.
    if valid_until is not None and valid_until < on:
        failures.append(f"{name} calibration expired on {valid_until.isoformat()}")
    elif meter.calibrated_on is not None and meter.calibrated_on > on:
        reviews.append(f"{name} calibration date {meter.calibrated_on.isoformat()} is after the check date")
    elif valid_until is None:
        reviews.append(f"{name} has no calibration expiry recorded")
    return failures, reviews


def _check_meters(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    meters, accepted, on = candidate.meters, params["accepted_classes"], context.checked_on
    observed = _listing(
        (
            f"{meter.serial} class {meter.accuracy_class or '?'}, calibrated until "
            f"{meter.calibration_valid_until.isoformat() if meter.calibration_valid_until else '?'}"
            for meter in meters
        ),
        separator="; ",
    )
    if len(meters) < params["min_meters"]:
        return _review(
            observed or "no meters",
            f"the site has {_count(len(meters), 'meter')} recorded; at least {params['min_meters']} needed",
        )
    failures, reviews = [], []
    for meter in meters:
        meter_failures, meter_reviews = _meter_problems(
            meter, accepted, params["calibration_interval_days"], on
        )
        failures += meter_failures
        reviews += meter_reviews
    passed_reason = (
        f"every meter has an accepted accuracy class ({_listing(accepted)}) "
        f"and a calibration valid on {on.isoformat()}"
    )
    return _verdict(observed, failures, reviews, passed_reason)


def _check_documents(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    present = {_fold(kind) for kind in candidate.document_kinds}
    observed = f"documents: {_listing(sorted(candidate.document_kinds)) or 'none'}"
    missing = [kind for kind in params["document_kinds"] if _fold(kind) not in present]
    if missing:
        return _failed(observed, f"missing required document: {_listing(missing)}")
    return _passed(observed, f"every required document is present ({_listing(params['document_kinds'])})")


def _check_applicability(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    answers = candidate.applicability_answers
    words = {True: "yes", False: "no"}
    conditions = params["conditions"]
    observed = _listing(f"{code}: {words.get(answers.get(code), 'unanswered')}" for code in conditions)
    # Only an explicit True passes; anything else is an answer still to give.
    failures = [code for code in conditions if answers.get(code) is False]
    reviews = [code for code in conditions if answers.get(code) not in (True, False)]
    return _verdict(
        observed,
        [f"applicability condition {_listing(failures)} is answered no"] if failures else [],
        [f"applicability condition {_listing(reviews)} is not answered yet"] if reviews else [],
        f"every applicability condition is answered yes ({_listing(conditions)})",
    )


def _own_duplicates(candidate: Candidate) -> tuple[list[str], list[str]]:
    """Serials repeated within the site itself, and meters without a serial (domain.md §1.4 b)."""
    failures, reviews = [], []
    for label, serials in (
        ("meter serial", [meter.serial for meter in candidate.meters]),
        ("equipment serial", list(candidate.equipment_serials)),
    ):
        counts = Counter(_fold(serial) for serial in serials if _fold(serial))
        failures += [
            f"{label} {serial} appears {n} times on this site" for serial, n in counts.items() if n > 1
        ]
        if any(not _fold(serial) for serial in serials):
            reviews.append(f"a {label} is blank, so the unit cannot be identified uniquely")
    return failures, reviews


def _check_double_counting(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    if candidate.conflicts is None:
        return _review(
            "not checked",
            "the checks for duplicate serials, nearby sites, exclusions and other registries were not run",
        )
    # The database may search wider than this criterion's radius; farther neighbours do not count.
    radius = params["nearby_radius_m"]
    conflicts = [
        conflict
        for conflict in candidate.conflicts
        if not (
            conflict.kind is ConflictKind.nearby_same_technology
            and conflict.distance_m is not None
            and conflict.distance_m > radius
        )
    ]
    failures, reviews = _own_duplicates(candidate)
    failures += [conflict.describe() for conflict in conflicts if conflict.kind in params["conflict_kinds"]]
    reviews += [conflict.describe() for conflict in conflicts if conflict.kind in params["review_kinds"]]
    observed = _count(len(conflicts), "conflict") + " found" if conflicts else "no conflicts found"
    return _verdict(
        observed, failures, reviews, "no duplicate, exclusion or other registration affects the site"
    )


def _check_debundling(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    capacity, technology, activities = (
        candidate.capacity_kw,
        candidate.technology,
        candidate.related_activities,
    )
    if capacity is None:
        return _review("no capacity", "the site has no installed capacity recorded")
    if not technology:
        return _review("no technology", "the site has no technology recorded")
    if activities is None:
        return _review("not checked", "the registered activities near the site have not been looked up")
    radius, lookback = params["radius_m"], params["lookback_years"]
    since = _years_before(context.checked_on, lookback) if lookback else None
    counted, unclear = [], []
    # domain.md §1.6: same CME or implementer, same technology, within 1 km at the closest point.
    for activity in activities:
        if not activity.same_participant or (
            activity.technology and _fold(activity.technology) != _fold(technology)
        ):
            continue
        if since is not None and activity.registered_on is not None and activity.registered_on < since:
            continue
        if activity.technology is None or activity.distance_m is None or activity.capacity_kw is None:
            unclear.append(activity.reference)
        elif since is not None and activity.registered_on is None:
            unclear.append(activity.reference)
        elif activity.distance_m <= radius:
            counted.append(activity)
    label, limit = _scale_limit(params) or ("small-scale", params["small_scale_limit_kw"])  # never large
    combined = capacity + sum((activity.capacity_kw or Decimal(0) for activity in counted), Decimal(0))
    references = _listing(activity.reference for activity in counted)
    observed = f"combined capacity {_kw(combined)}" + (f" with {references}" if counted else "")
    # The combined size must stay within the limit (domain.md §1.6, confirmed).
    if combined > limit:
        reason = (
            f"combined capacity {_kw(combined)} of this site and {references} (same participant and "
            f"technology within {_number(radius)} m) exceeds the {label} limit of {_kw(limit)}, so the site "
            "would be a de-bundled part of a larger activity"
        )
        return _failed(observed, reason)
    if unclear:
        return _review(
            observed, f"the technology, distance, capacity or date of {_listing(unclear)} is not recorded"
        )
    if counted:
        return _passed(
            observed, f"combined capacity with {references} stays within the {label} limit of {_kw(limit)}"
        )
    return _passed(
        observed, f"no registered activity of the same participant and technology within {_number(radius)} m"
    )


def _check_financial_support(candidate: Candidate, params: dict[str, Any], context: _Context) -> _Verdict:
    declared = candidate.declarations
    sources = _listing(declared.funding_sources)
    if declared.public_support is None:
        return _review("no declaration", "no declaration on public financial support has been recorded")
    if declared.public_support is False:
        if declared.funding_sources:
            return _review(
                f"declared no public support; sources {sources}",
                "the declaration says no public support but names funding sources; correct one of them",
            )
        return _passed("declared no public support", "the participant declares no public financial support")
    observed = f"public support from {sources or 'unnamed sources'}"
    failures, reviews = [], []
    if not declared.funding_sources:
        reviews.append("public support is declared but no funding source is named")
    # domain.md §1.4 h: public funding must not be a diversion of official development assistance.
    if params["require_oda_confirmation"] and declared.oda_not_diverted is False:
        failures.append("the declaration does not confirm that the public funding is not diverted aid (ODA)")
    elif params["require_oda_confirmation"] and declared.oda_not_diverted is None:
        reviews.append("no confirmation that the public funding does not divert aid (ODA) has been recorded")
    # domain.md §4.5: JCM model-project financing covers up to half of the initial investment.
    maximum = params["max_support_share"]
    if maximum is not None and declared.support_share is None:
        reviews.append("the share of the initial investment covered by public support is not recorded")
    elif maximum is not None and declared.support_share > maximum:
        failures.append(
            f"public support covers {_number(declared.support_share * 100)} % of the initial investment, "
            f"above the maximum of {_number(maximum * 100)} %"
        )
    return _verdict(observed, failures, reviews, "public support is declared in full and within the limits")


_Check = Callable[[Candidate, dict[str, Any], _Context], _Verdict]
_CHECKS: dict[CriterionKind, _Check] = {
    CriterionKind.location_in_boundary: _check_location,
    CriterionKind.technology_allowed: _check_technology,
    CriterionKind.capacity_range: _check_capacity,
    CriterionKind.commissioning_window: _check_commissioning,
    CriterionKind.meter_accuracy: _check_meters,
    CriterionKind.documents_present: _check_documents,
    CriterionKind.methodology_applicability: _check_applicability,
    CriterionKind.no_double_counting: _check_double_counting,
    CriterionKind.debundling: _check_debundling,
    CriterionKind.financial_support_declared: _check_financial_support,
}


def assess(
    candidate: Candidate, criteria: Iterable[Criterion], *, boundary: Boundary | None, checked_on: date
) -> EligibilityReport:
    """One result per criterion, in order; a missing fact or a misconfigured criterion needs review."""
    if isinstance(checked_on, datetime) or not isinstance(checked_on, date):
        raise TypeError("checked_on must be a date")
    context = _Context(boundary, checked_on)
    results = []
    for criterion in criteria:
        try:
            params = effective_params(criterion)
        except ValueError as error:
            # One misconfigured criterion must not hide the results of the others.
            verdict = _review("not checked", f"the criterion is misconfigured ({error}); correct it first")
        else:
            verdict = _CHECKS[criterion.kind](candidate, params, context)
        results.append(CriterionResult(criterion.code, criterion.description, criterion.kind, *verdict))
    return EligibilityReport(tuple(results))
