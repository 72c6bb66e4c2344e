"""Building blocks shared by every methodology: parameters, applicability conditions, exact maths."""

import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext
from enum import StrEnum
from typing import Any, Generic, ParamSpec, TypeVar

# What forms, CSV imports and JSON hand over. float is absent on purpose: it cannot hold 0.6592.
RawValue = str | int | Decimal
# A site's methodology-specific facts (capacity, technology...), as kept on the site record.
Facts = Mapping[str, Any]

P = TypeVar("P")
_Args = ParamSpec("_Args")
_Result = TypeVar("_Result")

ZERO = Decimal(0)

# Formulas run with 60 significant digits and Inexact trapped: a result that would need rounding
# raises instead of drifting. Credits are rounded down once, in the registry (architecture.md §8).
_EXACT_CONTEXT = Context(prec=60, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])


def exact(func: Callable[_Args, _Result]) -> Callable[_Args, _Result]:
    """Run a formula in a context where any rounding raises `decimal.Inexact`."""

    @functools.wraps(func)
    def wrapper(*args: _Args.args, **kwargs: _Args.kwargs) -> _Result:
        with localcontext(_EXACT_CONTEXT):
            return func(*args, **kwargs)

    return wrapper


class Confidence(StrEnum):
    """How far domain.md vouches for a methodology's equations (its [C]/[S]/[U] tags)."""

    CONFIRMED = "C"
    SECONDARY = "S"
    UNCONFIRMED = "U"


class ParameterError(ValueError):
    """A raw parameter value is missing, not an exact decimal, or out of range."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"parameter {parameter!r}: {message}")
        # Kept apart so a form or an API error body can attach the message to the right field.
        self.parameter = parameter
        self.reason = message


def to_decimal(name: str, raw: object) -> Decimal:
    """A finite Decimal from str, int or Decimal; floats and booleans are refused."""
    if isinstance(raw, bool):
        raise ParameterError(name, "a boolean is not a quantity")
    if isinstance(raw, float):
        # A float such as 0.1 is already inexact; only strings and Decimals carry the meter's digits.
        raise ParameterError(name, f"floats are refused ({raw!r}); pass a str or Decimal")
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise ParameterError(name, f"{raw!r} is not a decimal number") from None
    elif isinstance(raw, Decimal):
        value = raw
    else:
        raise ParameterError(name, f"expected str, int or Decimal, got {type(raw).__name__}")
    if not value.is_finite():
        raise ParameterError(name, f"{raw!r} is not a finite number")
    return value


@dataclass(frozen=True)
class Parameter:
    """One input of a methodology: its unit, meaning, default and allowed range.

    `default` None means the value is required. `monitored` is True for values measured in each
    monitoring period and False for values fixed ex ante (at validation or inclusion). Bounds are
    inclusive; quantities here are never negative unless `minimum` is set to None.
    """

    name: str
    unit: str
    description: str
    symbol: str = ""
    default: Decimal | None = None
    monitored: bool = False
    minimum: Decimal | None = ZERO
    maximum: Decimal | None = None
    integer: bool = False

    def __post_init__(self) -> None:
        # A default outside its own bounds is a programming error: fail when the module is imported.
        if self.default is not None:
            self.check(self.default)

    @property
    def required(self) -> bool:
        return self.default is None

    def check(self, value: object) -> Decimal:
        """The value itself if it is a finite Decimal within bounds; ParameterError otherwise."""
        if not isinstance(value, Decimal):
            raise ParameterError(self.name, f"expected Decimal, got {type(value).__name__} {value!r}")
        if not value.is_finite():
            raise ParameterError(self.name, f"{value} is not a finite number")
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(self.name, f"{value} {self.unit} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(self.name, f"{value} {self.unit} is above the maximum {self.maximum}")
        if self.integer and value != value.to_integral_value():
            raise ParameterError(self.name, f"{value} is not a whole number")
        return value

    def convert(self, raw: object) -> Decimal:
        """Raw str/int/Decimal → checked Decimal."""
        return self.check(to_decimal(self.name, raw))


def check_fields(instance: object, parameters: Iterable[Parameter]) -> None:
    """Validate every field of a Parameters dataclass; called from its `__post_init__`."""
    # Direct construction (services, tests) gets the same checks as parsing, floats included.
    for parameter in parameters:
        parameter.check(getattr(instance, parameter.name))


def parse_parameters(methodology: "Methodology[P]", raw: Mapping[str, object]) -> P:
    """Build the methodology's Parameters from raw values, applying defaults.

    Raises ParameterError (a ValueError) naming the first unknown, missing or invalid parameter.
    """
    known = {parameter.name: parameter for parameter in methodology.parameters}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        # Typos in a field name would otherwise fall back silently to a default.
        raise ParameterError(unknown[0], f"unknown for {methodology.code}; expected one of {sorted(known)}")
    values: dict[str, Decimal] = {}
    for name, parameter in known.items():
        # An empty form field arrives as None and counts as not given.
        if name in raw and raw[name] is not None:
            values[name] = parameter.convert(raw[name])
        elif parameter.default is not None:
            values[name] = parameter.default
        else:
            raise ParameterError(name, f"missing ({parameter.unit}: {parameter.description})")
    return methodology.parameters_type(**values)


class MissingFact(LookupError):
    """A site fact a machine-checkable condition needs was not supplied."""

    def __init__(self, name: str):
        super().__init__(f"missing site fact {name!r}")
        self.name = name


def _fact(facts: Facts, name: str) -> Any:
    if facts.get(name) is None:
        raise MissingFact(name)
    return facts[name]


def decimal_fact(facts: Facts, name: str) -> Decimal:
    """A numeric site fact as a Decimal (str, int or Decimal; floats refused)."""
    try:
        return to_decimal(name, _fact(facts, name))
    except ParameterError as error:
        raise ValueError(f"site fact {name!r}: {error.reason}") from None


def flag_fact(facts: Facts, name: str) -> bool:
    """A yes/no site fact; only real booleans count, so "no" cannot pass as true."""
    value = _fact(facts, name)
    if not isinstance(value, bool):
        raise ValueError(f"site fact {name!r} must be a boolean, got {value!r}")
    return value


def text_fact(facts: Facts, name: str) -> str:
    """A text site fact, stripped and lower-cased for comparison with methodology keys."""
    value = _fact(facts, name)
    if not isinstance(value, str):
        raise ValueError(f"site fact {name!r} must be text, got {value!r}")
    return value.strip().lower()


class ConditionStatus(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    NOT_APPLICABLE = "not_applicable"  # the condition does not concern this kind of site
    UNKNOWN = "unknown"  # a fact the predicate needs is missing
    DECLARED = "declared"  # a declaration the coordinator has confirmed
    TO_DECLARE = "to_declare"  # a declaration still awaiting the coordinator's confirmation


PASSING = frozenset({ConditionStatus.MET, ConditionStatus.NOT_APPLICABLE, ConditionStatus.DECLARED})


@dataclass(frozen=True)
class ConditionResult:
    code: str
    status: ConditionStatus
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status in PASSING


# A predicate returns True (met), False (not met) or None (does not apply to this site).
Predicate = Callable[[Facts], bool | None]


@dataclass(frozen=True)
class ApplicabilityCondition:
    """One applicability condition: machine-checked over site facts, or declared by the coordinator.

    With a `predicate` the condition is checked against the site facts named in `facts`; without
    one it is a declaration the coordinator must confirm (by its code).
    """

    code: str
    description: str
    predicate: Predicate | None = None
    facts: tuple[str, ...] = ()
    reference: str = ""

    @property
    def machine_checkable(self) -> bool:
        return self.predicate is not None

    def evaluate(self, facts: Facts, confirmed: Collection[str] = ()) -> ConditionResult:
        """Check the predicate, or look the code up among the coordinator's confirmations."""
        if self.predicate is None:
            status = ConditionStatus.DECLARED if self.code in confirmed else ConditionStatus.TO_DECLARE
            return ConditionResult(self.code, status)
        try:
            outcome = self.predicate(facts)
        # A missing fact is "unknown", never "not met": the coordinator can still supply it.
        except MissingFact as missing:
            return ConditionResult(self.code, ConditionStatus.UNKNOWN, str(missing))
        if outcome is None:
            return ConditionResult(self.code, ConditionStatus.NOT_APPLICABLE)
        return ConditionResult(self.code, ConditionStatus.MET if outcome else ConditionStatus.NOT_MET)


@dataclass(frozen=True)
class ApplicabilityReport:
    results: tuple[ConditionResult, ...]

    @property
    def applicable(self) -> bool:
        """True only when every condition is met, not applicable, or declared."""
        return all(result.passed for result in self.results)

    @property
    def not_met(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.results if r.status is ConditionStatus.NOT_MET)

    @property
    def outstanding(self) -> tuple[str, ...]:
        """Codes still waiting for a missing fact or a declaration."""
        waiting = {ConditionStatus.UNKNOWN, ConditionStatus.TO_DECLARE}
        return tuple(r.code for r in self.results if r.status in waiting)


@dataclass(frozen=True)
class EmissionBreakdown:
    """The four terms of ER = BE − PE − LE, in exact tCO2e (never rounded here)."""

    baseline_tco2e: Decimal
    project_tco2e: Decimal
    leakage_tco2e: Decimal
    emission_reductions_tco2e: Decimal

    @exact
    def __add__(self, other: "EmissionBreakdown") -> "EmissionBreakdown":
        return EmissionBreakdown(
            self.baseline_tco2e + other.baseline_tco2e,
            self.project_tco2e + other.project_tco2e,
            self.leakage_tco2e + other.leakage_tco2e,
            self.emission_reductions_tco2e + other.emission_reductions_tco2e,
        )


EMPTY_BREAKDOWN = EmissionBreakdown(ZERO, ZERO, ZERO, ZERO)


@dataclass(frozen=True)
class Methodology(Generic[P]):
    """Description of one methodology: identity, parameters, applicability and the formulas."""

    code: str
    version: str
    title: str
    mechanism: str  # "CDM" or "JCM": decides the vocabulary (baseline vs reference emissions)
    sectoral_scopes: tuple[int, ...]
    technologies: tuple[str, ...]  # keys matched against a site's "technology" fact
    parameters: tuple[Parameter, ...]
    applicability_conditions: tuple[ApplicabilityCondition, ...]
    parameters_type: type[P]
    baseline_emissions: Callable[[P], Decimal]
    project_emissions: Callable[[P], Decimal]
    leakage: Callable[[P], Decimal]
    emission_reductions: Callable[[P], Decimal]
    # The weakest domain.md tag behind the equations, so the UI can warn before anything is issued.
    confidence: Confidence
    reference: str

    def __post_init__(self) -> None:
        # The Parameter tuple and the dataclass are written side by side; fail at import if they drift.
        declared = {parameter.name: parameter.default for parameter in self.parameters}
        defaults = {
            f.name: (None if f.default is MISSING else f.default)
            for f in fields(self.parameters_type)  # type: ignore[arg-type]
        }
        if declared != defaults:
            raise TypeError(f"{self.code}: Parameters fields/defaults do not match the Parameter tuple")
        codes = [condition.code for condition in self.applicability_conditions]
        if len(codes) != len(set(codes)):
            raise TypeError(f"{self.code}: duplicate applicability condition codes")

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(f"{self.code} has no parameter {name!r}")

    def parse_parameters(self, raw: Mapping[str, object]) -> P:
        """See `parse_parameters`."""
        return parse_parameters(self, raw)

    def breakdown(self, parameters: P) -> EmissionBreakdown:
        """BE, PE, LE and ER for one parameter set."""
        return EmissionBreakdown(
            self.baseline_emissions(parameters),
            self.project_emissions(parameters),
            self.leakage(parameters),
            self.emission_reductions(parameters),
        )

    def total(self, parameter_sets: Iterable[P]) -> EmissionBreakdown:
        """Sum over sets (the Σ_i over units, lamp groups or sites); exact, still unrounded."""
        # Summed term by term, exactly; the only rounding is the registry's, on the period total.
        total = EMPTY_BREAKDOWN
        for parameters in parameter_sets:
            total = total + self.breakdown(parameters)
        return total

    def assess_applicability(self, facts: Facts, confirmed: Collection[str] = ()) -> ApplicabilityReport:
        """Evaluate every applicability condition against a site's facts and confirmed declarations."""
        return ApplicabilityReport(
            tuple(condition.evaluate(facts, confirmed) for condition in self.applicability_conditions)
        )
