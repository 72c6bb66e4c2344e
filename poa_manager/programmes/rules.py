"""Programme and crediting-period rules per mechanism. Pure Python: no Flask, no database.

Sources: domain.md §1.7 (CDM PoA ≤ 28 years; crediting renewable ≤ 7 years with at most two
renewals, or fixed ≤ 10 years; site crediting starts no earlier than inclusion and never runs past
the programme end), §4.6 (JCM: no streamlined inclusion after registration [U]), §6.1 (Gold
Standard: direct inclusion once a VPA of the same technology passed verification), §6.2 (Verra:
new instances join at a verification event).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum


class Mechanism(StrEnum):
    jcm = "jcm"
    cdm_poa = "cdm_poa"
    gold_standard = "gold_standard"
    verra_grouped = "verra_grouped"
    article6_cooperative = "article6_cooperative"

    @property
    def label(self) -> str:
        return _MECHANISM_LABELS[self]

    @property
    def site_label(self) -> str:
        """What each standard calls a component (domain.md §8)."""
        return _SITE_LABELS[self]

    @property
    def sites_label(self) -> str:
        """The plural, as a heading: "CPAs", "VPAs", "Instances", "Sites"."""
        label = _SITE_LABELS[self]
        return (label if label.isupper() else label.capitalize()) + "s"


_MECHANISM_LABELS = {
    Mechanism.jcm: "JCM",
    Mechanism.cdm_poa: "CDM PoA",
    Mechanism.gold_standard: "Gold Standard VPA programme",
    Mechanism.verra_grouped: "Verra grouped project",
    Mechanism.article6_cooperative: "Article 6.2 cooperative approach",
}
_SITE_LABELS = {
    Mechanism.jcm: "site",
    Mechanism.cdm_poa: "CPA",
    Mechanism.gold_standard: "VPA",
    Mechanism.verra_grouped: "instance",
    Mechanism.article6_cooperative: "site",
}


class CreditingPeriodType(StrEnum):
    renewable = "renewable"
    fixed = "fixed"


class SamplingRule(StrEnum):
    """Reliability for verification sampling (domain.md §2.1): 90/10 small scale, 95/10 otherwise."""

    ninety_ten = "90/10"
    ninety_five_ten = "95/10"

    @property
    def confidence(self) -> Decimal:
        return Decimal("0.90") if self is SamplingRule.ninety_ten else Decimal("0.95")

    @property
    def relative_precision(self) -> Decimal:
        return Decimal("0.10")


class InclusionRoute(StrEnum):
    """Who confirms a site's inclusion after the coordinator has checked it."""

    coordinator = "coordinator"  # the CME includes directly
    verifier_confirms = "verifier_confirms"  # a DOE/VVB/TPE confirms each inclusion (CDM, Verra, JCM)
    verifier_until_first_verified = "verifier_until_first_verified"  # GS4GG rule (domain.md §6.1)

    @property
    def label(self) -> str:
        return {
            InclusionRoute.coordinator: "Coordinator includes directly",
            InclusionRoute.verifier_confirms: "A verifier confirms every inclusion",
            InclusionRoute.verifier_until_first_verified: (
                "A verifier confirms until a site of the same technology has passed verification"
            ),
        }[self]


@dataclass(frozen=True)
class MechanismDefaults:
    """Defaults a new programme starts from; the programme may change each one."""

    max_duration_years: int
    crediting_period_type: CreditingPeriodType
    crediting_period_years: int
    max_renewals: int
    inclusion_route: InclusionRoute
    sampling_rule: SamplingRule


# CDM values are [C] (domain.md §1.7). The other mechanisms reuse them where the document gives
# no own figure; those are [U] and shown as such in the programme form.
MECHANISM_DEFAULTS: dict[Mechanism, MechanismDefaults] = {
    Mechanism.cdm_poa: MechanismDefaults(
        28, CreditingPeriodType.renewable, 7, 2, InclusionRoute.verifier_confirms, SamplingRule.ninety_ten
    ),
    Mechanism.gold_standard: MechanismDefaults(
        28,
        CreditingPeriodType.renewable,
        7,
        2,
        InclusionRoute.verifier_until_first_verified,
        SamplingRule.ninety_ten,
    ),
    Mechanism.verra_grouped: MechanismDefaults(
        28,
        CreditingPeriodType.renewable,
        7,
        2,
        InclusionRoute.verifier_confirms,
        SamplingRule.ninety_five_ten,
    ),
    Mechanism.jcm: MechanismDefaults(
        28, CreditingPeriodType.fixed, 10, 0, InclusionRoute.verifier_confirms, SamplingRule.ninety_ten
    ),
    Mechanism.article6_cooperative: MechanismDefaults(
        28, CreditingPeriodType.renewable, 7, 2, InclusionRoute.verifier_confirms, SamplingRule.ninety_ten
    ),
}
UNCONFIRMED_DEFAULTS = frozenset(
    {Mechanism.gold_standard, Mechanism.verra_grouped, Mechanism.jcm, Mechanism.article6_cooperative}
)

# The rule-book ceilings (domain.md §1.7): the programme may choose less, never more.
MAX_PROGRAMME_YEARS = 28
MAX_RENEWABLE_PERIOD_YEARS = 7
MAX_RENEWALS = 2
MAX_FIXED_PERIOD_YEARS = 10

# JCM model-project support by replication order (domain.md §4.5): 50 % for the first, 40 % for
# the 2nd–3rd, 30 % from the 4th. The tiers are [U]; programmes may set their own table.
DEFAULT_SUPPORT_TIERS: tuple[tuple[int, Decimal], ...] = (
    (1, Decimal("0.50")),
    (2, Decimal("0.40")),
    (4, Decimal("0.30")),
)


def add_years(start: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def programme_end(start: date, duration_years: int) -> date:
    """Last day of a programme that starts on `start` and lasts `duration_years`."""
    return add_years(start, duration_years) - timedelta(days=1)


def design_problems(
    *,
    start_date: date | None,
    duration_years: int | None,
    crediting_period_type: CreditingPeriodType,
    crediting_period_years: int | None,
    max_renewals: int | None,
    max_duration_years: int = MAX_PROGRAMME_YEARS,
) -> dict[str, list[str]]:
    """Field problems in a programme's timing rules; empty when they follow domain.md §1.7."""
    problems: dict[str, list[str]] = {}
    if start_date is None:
        problems["start_date"] = ["Give the programme's start date."]
    if duration_years is None or not 1 <= duration_years <= max_duration_years:
        problems["duration_years"] = [f"Between 1 and {max_duration_years} years (CDM PoA standard)."]
    ceiling = (
        MAX_RENEWABLE_PERIOD_YEARS
        if crediting_period_type is CreditingPeriodType.renewable
        else MAX_FIXED_PERIOD_YEARS
    )
    if crediting_period_years is None or not 1 <= crediting_period_years <= ceiling:
        problems["crediting_period_years"] = [
            f"Between 1 and {ceiling} years for a {crediting_period_type} period."
        ]
    allowed_renewals = MAX_RENEWALS if crediting_period_type is CreditingPeriodType.renewable else 0
    if max_renewals is None or not 0 <= max_renewals <= allowed_renewals:
        problems["max_renewals"] = [
            f"Between 0 and {allowed_renewals} renewals for a {crediting_period_type} period."
        ]
    return problems


def support_rate(
    replication_order: int, tiers: tuple[tuple[int, Decimal], ...] = DEFAULT_SUPPORT_TIERS
) -> Decimal:
    """The support share for the n-th site of a technology: the tier with the highest start ≤ n."""
    if replication_order < 1:
        raise ValueError("replication order starts at 1")
    applicable = [rate for first, rate in sorted(tiers) if first <= replication_order]
    if not applicable:
        raise ValueError(f"no support tier covers site number {replication_order}")
    return applicable[-1]


@dataclass(frozen=True)
class CreditingPeriod:
    start: date
    end: date
    renewals_left: int


def first_crediting_period(
    *,
    requested_start: date,
    included_on: date,
    period_type: CreditingPeriodType,
    period_years: int,
    max_renewals: int,
    programme_ends_on: date,
) -> CreditingPeriod:
    """A site's first crediting period (CDM PoA standard, domain.md §1.3, §1.7).

    Raises ValueError when the start is before inclusion or after the programme end.
    """
    if requested_start < included_on:
        raise ValueError(f"crediting cannot start before inclusion on {included_on.isoformat()}")
    if requested_start > programme_ends_on:
        raise ValueError(
            f"crediting cannot start after the programme ends on {programme_ends_on.isoformat()}"
        )
    end = min(add_years(requested_start, period_years) - timedelta(days=1), programme_ends_on)
    renewals = max_renewals if period_type is CreditingPeriodType.renewable else 0
    return CreditingPeriod(requested_start, end, renewals)
