"""Sampling for verification (domain.md §2): sample sizes, stratified allocation, seeded draws, estimates.

Pure: standard library only, no Flask, no database. The sampling plan stores the seed and a frozen,
sorted frame of item ids, so a verifier can repeat any draw (domain.md §2.5, architecture.md §8).

Statistical intermediates (z, CVs, standard errors, sample sizes before rounding) are floats. Values
that end up in credits (a parameter's conservative value, the error ratio, the corrected total) are
Decimals, rounded in the conservative direction where they are rounded at all.

Every interval uses the normal quantile z, never Student's t: domain.md §2.2 and §2.4 state their
formulas and worked numbers with z (1.645 at 90 %, 1.96 at 95 %). For small samples a t quantile
would give a wider interval; whether the Sampling standard asks for t there is [U].
"""

import hashlib
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, Inexact
from fractions import Fraction
from itertools import pairwise
from typing import Literal

# Ratios and parameter bounds that feed credits keep 6 decimal places (platform choice [U]):
# lower bounds and the error ratio are rounded down, upper bounds up, i.e. always conservatively.
PLACES = Decimal("0.000001")

# corrected_total multiplies two finite Decimals; this context makes any rounding raise instead.
_EXACT = Context(prec=100, traps=[Inexact])
# Bounds and ratios are computed in a context that rounds towards the conservative side, so that
# not even the 60th significant digit can tip a value the wrong way before it is quantized.
_FLOOR = Context(prec=60, rounding=ROUND_FLOOR)
_CEILING = Context(prec=60, rounding=ROUND_CEILING)


# --- Reliability ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reliability:
    """A confidence level and a relative precision, e.g. 90/10 = (Decimal("0.90"), Decimal("0.10"))."""

    confidence: Decimal
    precision: Decimal

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence {self.confidence} is not between 0 and 1")
        if self.precision <= 0:
            raise ValueError(f"relative precision {self.precision} must be positive")

    @property
    def z(self) -> float:
        """Two-sided normal quantile: 1.6449 at 90 %, 1.9600 at 95 % (domain.md §2.2)."""
        return statistics.NormalDist().inv_cdf(0.5 + float(self.confidence) / 2)


# domain.md §2.1 [S]: 90/10 for small-scale projects and PoAs where the methodology is silent.
SMALL_SCALE = Reliability(Decimal("0.90"), Decimal("0.10"))
# domain.md §2.1 [S]: 95/10 for large-scale; [C] 95/10 when one sampling plan covers a group of CPAs.
LARGE_SCALE_OR_GROUP = Reliability(Decimal("0.95"), Decimal("0.10"))


# --- Sample sizes (domain.md §2.2) ---------------------------------------------------------------


@dataclass(frozen=True)
class SampleSize:
    """A required sample size and how it was reached; `formula` is shown to the verifier as is."""

    n: int  # final: rounded up, inflated for non-response, never above the population
    exact: float  # the formula's unrounded value
    formula: str
    kind: Literal["mean", "proportion"]
    parameter: float  # the coefficient of variation V (mean) or the expected proportion p
    population: int | None  # None: infinite
    reliability: Reliability
    non_response: float


def _ceil(value: float) -> int:
    # domain.md §2.2: always round up. Rounding to 9 places first drops float noise, so that
    # 21 / (1 − 0.3) = 30.000000000000004 needs 30 sites, not 31.
    return math.ceil(round(value, 9))


def _check_common(population: int | None, non_response: float) -> None:
    if population is not None and population < 1:
        raise ValueError(f"population {population} must be at least 1 (None for infinite)")
    if not 0 <= non_response < 1:
        raise ValueError(f"non-response rate {non_response} must be in [0, 1)")


def _finish(
    exact: float,
    formula: str,
    kind: Literal["mean", "proportion"],
    parameter: float,
    population: int | None,
    reliability: Reliability,
    non_response: float,
) -> SampleSize:
    n = _ceil(exact)
    formula += f" = {exact:.2f} → {n}"
    if non_response:
        # domain.md §2.2: "Add an allowance for non-response": n / (1 − r), again rounded up.
        inflated = n / (1 - non_response)
        formula += f"; with {non_response:g} non-response: {n} / (1 − {non_response:g}) = {inflated:.2f}"
        formula += f" → {_ceil(inflated)}"
        n = _ceil(inflated)
    if population is not None and n > population:
        # A sample cannot be larger than the population: at worst every item is checked.
        n = population
        formula += f"; capped at N = {population}"
    return SampleSize(n, exact, formula, kind, parameter, population, reliability, non_response)


def sample_size_mean(
    population: int | None, cv: float, reliability: Reliability, *, non_response: float = 0
) -> SampleSize:
    """Sample size for a mean-type parameter (hours of use, kWh per site), domain.md §2.2.

    n = N·z²·V² / ((N−1)·e² + z²·V²), or n0 = z²·V²/e² for an infinite population (N = None),
    where V is the coefficient of variation (SD/mean) and e the relative precision.
    """
    _check_common(population, non_response)
    if cv <= 0:
        raise ValueError(f"coefficient of variation {cv} must be positive")
    z, e = reliability.z, float(reliability.precision)
    e_text = reliability.precision  # shown as written, e.g. 0.10
    zv = f"{z:.4f}²·{cv:g}²"
    if population is None:
        exact = z**2 * cv**2 / e**2
        formula = f"n = z²·V²/e² = {zv}/{e_text}²"
    else:
        exact = population * z**2 * cv**2 / ((population - 1) * e**2 + z**2 * cv**2)
        formula = "n = N·z²·V² / ((N−1)·e² + z²·V²) = "
        formula += f"{population}·{zv} / ({population - 1}·{e_text}² + {zv})"
    return _finish(exact, formula, "mean", cv, population, reliability, non_response)


def sample_size_proportion(
    population: int | None, p: float, reliability: Reliability, *, non_response: float = 0
) -> SampleSize:
    """Sample size for a proportion (share of stoves still in use) at a relative precision, §2.2.

    n = N·z²·p(1−p) / ((N−1)·e²·p² + z²·p(1−p)), or n0 = z²·(1−p)/(e²·p) for N = None.
    """
    _check_common(population, non_response)
    if not 0 < p < 1:
        raise ValueError(f"expected proportion {p} must be strictly between 0 and 1")
    z, e = reliability.z, float(reliability.precision)
    e_text = reliability.precision  # shown as written, e.g. 0.10
    if population is None:
        exact = z**2 * (1 - p) / (e**2 * p)
        formula = f"n = z²·(1−p)/(e²·p) = {z:.4f}²·(1−{p:g}) / ({e_text}²·{p:g})"
    else:
        exact = population * z**2 * p * (1 - p) / ((population - 1) * e**2 * p**2 + z**2 * p * (1 - p))
        zp = f"{z:.4f}²·{p:g}·(1−{p:g})"
        formula = (
            f"n = N·z²·p(1−p) / ((N−1)·e²·p² + z²·p(1−p)) = "
            f"{population}·{zp} / ({population - 1}·{e_text}²·{p:g}² + {zp})"
        )
    return _finish(exact, formula, "proportion", p, population, reliability, non_response)


# --- Stratified allocation (domain.md §2.3) ------------------------------------------------------


@dataclass(frozen=True)
class Stratum:
    """A stratum's population size N_h and, for Neyman allocation, its standard deviation S_h."""

    size: int
    sd: float | None = None

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"stratum size {self.size} is negative")
        if self.sd is not None and self.sd < 0:
            raise ValueError(f"stratum standard deviation {self.sd} is negative")


def allocate(
    n: int, strata: Mapping[str, Stratum], method: Literal["proportional", "neyman"]
) -> dict[str, int]:
    """Split a sample of n across strata, domain.md §2.3; the result sums to exactly n.

    Proportional: n_h = n·N_h/N. Neyman: n_h = n·N_h·S_h / Σ(N_k·S_k).

    Platform choices [U], so that every stratum is estimable and no stratum is over-drawn:
    - each non-empty stratum gets at least 1 and at most N_h (an empty one gets 0). The shares are
      n_h = clamp(λ·w_h, 1, N_h), with w_h the formula's weight and λ chosen so they sum to n. When
      no bound binds this is the formula above; a stratum that would exceed its size is sampled
      whole and its surplus goes to the others in the same proportions;
    - the shares are made whole by largest remainder: each gets its integer part, and the units
      left go to the largest fractional parts, ties to the stratum key that sorts first. So §2.3's
      Neyman 37.5/37.5/25 over keys A/B/C becomes 38/37/25.
    Arithmetic is exact (fractions), so equal remainders really are equal.
    """
    if method == "proportional":
        weights = {h: Fraction(s.size) for h, s in strata.items()}
    elif method == "neyman":
        missing = sorted(h for h, s in strata.items() if s.sd is None)
        if missing:
            raise ValueError(f"Neyman allocation needs a standard deviation for strata {missing}")
        weights = {h: s.size * Fraction(s.sd or 0) for h, s in strata.items()}
    else:
        raise ValueError(f"unknown allocation method {method!r}")
    sizes = {h: s.size for h, s in strata.items()}
    non_empty = sum(1 for size in sizes.values() if size)
    if not non_empty <= n <= sum(sizes.values()):
        raise ValueError(
            f"a sample of {n} cannot give each of {non_empty} non-empty strata at least one item "
            f"and stay within their {sum(sizes.values())} items"
        )

    def share(lam: Fraction, h: str) -> Fraction:
        return min(max(lam * weights[h], Fraction(1)), Fraction(sizes[h])) if sizes[h] else Fraction(0)

    def total(lam: Fraction) -> Fraction:
        return sum((share(lam, h) for h in strata), Fraction(0))

    # total(λ) is piecewise linear and non-decreasing, with kinks where λ·w_h reaches 1 or N_h:
    # walk the kinks to the segment that contains n, then interpolate within it.
    kinks = sorted({k / w for h, w in weights.items() if w and sizes[h] for k in (1, sizes[h])})
    lam, reached = Fraction(0), total(Fraction(0))
    for kink in kinks:
        if reached == n:
            break
        at_kink = total(kink)
        if at_kink >= n:
            lam += (n - reached) * (kink - lam) / (at_kink - reached)
            reached = Fraction(n)
            break
        lam, reached = kink, at_kink
    if reached != n:
        # Only strata with S_h = 0 are left to grow, and Neyman gives them no more than 1.
        raise ValueError(f"the strata with a positive standard deviation cannot absorb a sample of {n}")

    shares = {h: share(lam, h) for h in strata}
    result = {h: math.floor(q) for h, q in shares.items()}
    left = n - sum(result.values())
    # Fewer units are left than strata with a fractional part, so a stratum whose share is already
    # its whole size (fraction 0) never gets one more.
    for h in sorted(strata, key=lambda h: (-(shares[h] - result[h]), h))[:left]:
        result[h] += 1
    return result


# --- Reproducible draws (domain.md §2.4, §2.5) ---------------------------------------------------


def _permutation(frame: Sequence[str], seed: int) -> list[str]:
    # Fisher–Yates driven only by Random.random(), the one method whose sequence for a given seed
    # Python promises to keep across versions (Random.shuffle may change), so old draws repeat.
    items = list(frame)
    rng = random.Random(seed)
    for i in range(len(items) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items


def draw_sample(frame: Sequence[str], n: int, *, seed: int, already: int = 0) -> list[str]:
    """Items [already, already + n) of the seeded permutation of `frame`.

    `frame` is the sampling plan's frozen list of item ids, sorted and without duplicates. The
    same seed always gives the same permutation, so a sample is extended (domain.md §2.4 "take
    more samples") by drawing again with `already` = the items drawn so far: the new items follow
    on from the old ones and never repeat them.
    """
    if any(a >= b for a, b in pairwise(frame)):
        raise ValueError("the sampling frame must be sorted and without duplicates")
    if n < 0 or already < 0 or already + n > len(frame):
        raise ValueError(f"cannot draw items {already}..{already + n} from a frame of {len(frame)}")
    return _permutation(frame, seed)[already : already + n]


def stratum_seed(seed: int, stratum: str) -> int:
    """The seed of one stratum: the first 8 bytes of sha256("{seed}:{stratum}"), big-endian."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{stratum}".encode()).digest()[:8], "big")


def draw_stratified(
    frames: Mapping[str, Sequence[str]],
    allocation: Mapping[str, int],
    *,
    seed: int,
    already: Mapping[str, int] | None = None,
) -> dict[str, list[str]]:
    """One `draw_sample` per stratum of `allocation`, each with its own `stratum_seed`.

    Deriving the stratum seeds from the plan's one seed keeps each stratum's draw independent of
    the others, so re-allocating or extending one stratum leaves the rest unchanged.
    """
    unknown = sorted(set(allocation) - set(frames))
    if unknown:
        raise ValueError(f"no sampling frame for strata {unknown}")
    done = already or {}
    return {
        h: draw_sample(frames[h], n_h, seed=stratum_seed(seed, h), already=done.get(h, 0))
        for h, n_h in allocation.items()
    }


# --- Estimates from the sample (domain.md §2.4, §2.5) --------------------------------------------


def _relative(half_width: float, centre: float) -> float:
    return half_width / centre if centre > 0 else math.inf


def _lower(centre: Decimal, half_width: float) -> Decimal:
    return _FLOOR.subtract(centre, Decimal(half_width)).quantize(PLACES, rounding=ROUND_FLOOR, context=_FLOOR)


def _upper(centre: Decimal, half_width: float) -> Decimal:
    return _CEILING.add(centre, Decimal(half_width)).quantize(
        PLACES, rounding=ROUND_CEILING, context=_CEILING
    )


def _fpc(n: int, population: int | None) -> float:
    """Finite population correction of a variance, 1 − n/N (domain.md §2.3); 1 when N is infinite."""
    if population is None:
        return 1.0
    if population < n:
        raise ValueError(f"a sample of {n} is larger than its population of {population}")
    return 1 - n / population


@dataclass(frozen=True)
class MeanEstimate:
    """A sample mean with its interval; bounds are rounded outward to 6 places."""

    mean: Decimal
    sd: float
    n: int
    population: int | None
    reliability: Reliability
    standard_error: float
    half_width: float  # z·SE
    lower: Decimal
    upper: Decimal
    achieved_precision: float  # z·SE / mean, relative
    meets_target: bool

    def conservative_value(self, *, increases_reductions: bool) -> Decimal:
        """The mean if the target is met, else the conservative bound (domain.md §2.4 [C], para 18(c)).

        The lower bound for a parameter that raises emission reductions, the upper for one that
        lowers them. How far the lower-bound correction may be used is [U]; it is not limited here.
        """
        if self.meets_target:
            return self.mean
        return self.lower if increases_reductions else self.upper


def estimate_mean_from_summary(
    mean: Decimal, sd: float, n: int, reliability: Reliability, *, population: int | None = None
) -> MeanEstimate:
    """domain.md §2.4: SE = s/√n·√(1 − n/N), interval mean ± z·SE, precision z·SE/mean."""
    if n < 2:
        raise ValueError("a mean needs at least two observations to estimate its precision")
    if sd < 0:
        raise ValueError(f"standard deviation {sd} is negative")
    se = sd / math.sqrt(n) * math.sqrt(_fpc(n, population))
    half = reliability.z * se
    precision = _relative(half, float(mean))
    return MeanEstimate(
        mean=mean,
        sd=sd,
        n=n,
        population=population,
        reliability=reliability,
        standard_error=se,
        half_width=half,
        lower=_lower(mean, half),
        upper=_upper(mean, half),
        achieved_precision=precision,
        meets_target=precision <= float(reliability.precision),
    )


def estimate_mean(
    values: Sequence[Decimal], reliability: Reliability, population: int | None = None
) -> MeanEstimate:
    """The mean of sampled values of a mean-type parameter, with its interval (domain.md §2.4)."""
    if len(values) < 2:
        raise ValueError("a mean needs at least two observations to estimate its precision")
    mean = sum(values, Decimal(0)) / len(values)
    sd = statistics.stdev(float(v) for v in values)
    return estimate_mean_from_summary(mean, sd, len(values), reliability, population=population)


@dataclass(frozen=True)
class Finding:
    """One sampled site: the quantity the request claimed for it and what the verifier confirmed."""

    reported: Decimal
    verified: Decimal

    def __post_init__(self) -> None:
        if self.reported < 0 or self.verified < 0:
            raise ValueError(f"reported {self.reported} and verified {self.verified} cannot be negative")


@dataclass(frozen=True)
class RatioEstimate:
    """The verified/claimed ratio of a sample with its interval; bounds rounded outward to 6 places."""

    ratio: Decimal  # R = Σ verified / Σ reported, to 60 significant digits, rounded down
    n: int
    population: int | None
    reliability: Reliability
    standard_error: float
    half_width: float  # z·SE
    lower: Decimal
    upper: Decimal
    achieved_precision: float  # z·SE / R, relative
    meets_target: bool

    @property
    def conservative_ratio(self) -> Decimal:
        """The ratio applied to the request: R if the target is met, else the lower bound (§2.4).

        Emission reductions are ER-increasing, so the lower bound is the conservative side, and the
        ratio is rounded down to 6 places. [U] platform policy: it never exceeds 1, so a sample in
        which sites were under-claimed does not raise the request above what was claimed.
        """
        ratio = self.ratio if self.meets_target else self.lower
        return min(ratio.quantize(PLACES, rounding=ROUND_FLOOR, context=_FLOOR), Decimal(1))


def _ratio_estimate(
    ratio: Decimal, se: float, n: int, population: int | None, reliability: Reliability
) -> RatioEstimate:
    """The interval R ± z·SE (lower bound stopped at 0) and the achieved relative precision."""
    half = reliability.z * se
    precision = _relative(half, float(ratio))
    return RatioEstimate(
        ratio=ratio,
        n=n,
        population=population,
        reliability=reliability,
        standard_error=se,
        half_width=half,
        lower=max(_lower(ratio, half), Decimal(0)),
        upper=_upper(ratio, half),
        achieved_precision=precision,
        meets_target=precision <= float(reliability.precision),
    )


def estimate_ratio(
    findings: Sequence[Finding], reliability: Reliability, *, population: int | None = None
) -> RatioEstimate:
    """Ratio estimator R = Σv_i / Σc_i of verified (v) over claimed (c) across the sampled sites.

    The ratio estimator is the usual way to extrapolate verification adjustments: the sample's
    verified share of what was claimed is applied to the whole request (domain.md §2.5). Its
    variance is s_R² = Σ(v_i − R·c_i)² / ((n−1)·n·c̄²), times 1 − n/N when the population N of
    sites is given; the interval is R ± z·s_R and the achieved precision z·s_R / R.
    """
    n = len(findings)
    if n < 2:
        raise ValueError("a ratio needs at least two sampled sites to estimate its precision")
    claimed = sum((f.reported for f in findings), Decimal(0))
    if claimed <= 0:
        raise ValueError("the sampled sites claimed nothing, so there is no ratio to extrapolate")
    ratio = _FLOOR.divide(sum((f.verified for f in findings), Decimal(0)), claimed)
    r, c_mean = float(ratio), float(claimed) / n
    residuals = sum((float(f.verified) - r * float(f.reported)) ** 2 for f in findings)
    se = math.sqrt(residuals / ((n - 1) * n * c_mean**2) * _fpc(n, population))
    return _ratio_estimate(ratio, se, n, population, reliability)


def estimate_stratified_ratio(
    findings: Mapping[str, Sequence[Finding]], sizes: Mapping[str, int], reliability: Reliability
) -> RatioEstimate:
    """Combined ratio estimator over strata (Cochran, Sampling Techniques §6.11), domain.md §2.3, §2.5.

    `findings` holds each stratum's sampled sites, `sizes` each stratum's N_h, the number of sites
    in its frame. With v̄_h and c̄_h the stratum's mean verified and claimed quantities:

        R_c = Σ N_h·v̄_h / Σ N_h·c̄_h

    so each stratum counts by its share of the population, not by how many of its sites were
    sampled (pooling all findings into `estimate_ratio` would over-weight a stratum sampled at a
    higher rate). R_c is exact up to one rounding down to 60 significant digits, as in
    `estimate_ratio`. Its variance, with W_h = N_h/N, X̄ = Σ W_h·c̄_h and d_i = v_i − R_c·c_i:

        V(R_c) = (1/X̄²)·Σ W_h²·(1 − n_h/N_h)·s²_dh/n_h,   s²_dh = Σ(d_i − d̄_h)²/(n_h − 1)

    This is §2.3's stratified variance applied to the residuals d. Unlike `estimate_ratio`, whose
    Σ(v_i − R·c_i)²/(n − 1) is taken about zero, s²_dh is taken about the stratum's own mean d̄_h,
    which is not zero when the strata's ratios differ. With one stratum d̄ = Σv/n − R·Σc/n = 0
    exactly, so the two agree there up to float noise. The interval is R_c ± z·SE, its lower bound
    stopping at 0; the result is the `RatioEstimate` of `estimate_ratio` with population = N.

    Platform choices [U]: a stratum sampled whole (n_h = N_h) is known exactly and adds no
    variance, even with a single site; a stratum with n_h = 1 < N_h has no estimate of its
    variance and is refused, as is a non-empty stratum with no findings. The separate ratio
    estimator (Cochran §6.10) is not used: it is biased when the n_h are small.
    """
    unknown = sorted(set(findings) - set(sizes))
    if unknown:
        raise ValueError(f"no stratum size for the strata {unknown} of the findings")
    negative = sorted(h for h, size in sizes.items() if size < 0)
    if negative:
        raise ValueError(f"strata {negative} have a negative size")
    for h in sorted(sizes):
        n_h, size = len(findings.get(h, ())), sizes[h]
        if n_h > size:
            raise ValueError(f"stratum {h!r} has {n_h} sampled sites but only {size} in its frame")
        if n_h == 0 and size > 0:
            raise ValueError(f"stratum {h!r} has {size} sites but none of them was sampled")
    n = sum(len(stratum) for stratum in findings.values())
    if n < 2:
        raise ValueError("a ratio needs at least two sampled sites to estimate its precision")
    for h in sorted(findings):
        if len(findings[h]) == 1 < sizes[h]:
            raise ValueError(
                f"stratum {h!r} has one sampled site out of {sizes[h]}, which cannot estimate its "
                f"variance: sample at least two sites of it, or all of them"
            )
    strata = sorted(h for h in findings if findings[h])
    population = sum(sizes.values())

    # Σ N_h·v̄_h and Σ N_h·c̄_h as exact fractions (a Decimal converts to a Fraction exactly).
    def weighted(h: str, attribute: str) -> Fraction:
        total = sum((getattr(f, attribute) for f in findings[h]), Decimal(0))
        return sizes[h] * Fraction(total) / len(findings[h])

    verified = sum((weighted(h, "verified") for h in strata), Fraction(0))
    claimed = sum((weighted(h, "reported") for h in strata), Fraction(0))
    if claimed <= 0:
        raise ValueError("the sampled sites claimed nothing, so there is no ratio to extrapolate")
    exact = verified / claimed
    ratio = _FLOOR.divide(Decimal(exact.numerator), Decimal(exact.denominator))

    r = float(ratio)
    variance = 0.0
    for h in strata:
        n_h, size = len(findings[h]), sizes[h]
        if n_h == size:
            continue  # sampled whole: no sampling error, and 1 − n_h/N_h = 0
        residuals = [float(f.verified) - r * float(f.reported) for f in findings[h]]
        variance += (size / population) ** 2 * _fpc(n_h, size) * statistics.variance(residuals) / n_h
    se = math.sqrt(variance) / float(claimed / population)
    return _ratio_estimate(ratio, se, n, population, reliability)


def corrected_total(claimed_total: Decimal, estimate: RatioEstimate) -> Decimal:
    """The request's total after correction: claimed × conservative ratio, exact (domain.md §2.5).

    Errors found in the sample are corrected across the whole request (VVS-PoA v2 paras 359–360
    [C]; §1.8). The ratio is already rounded down to 6 places, and the product is exact: credits
    are rounded down once, later, on the issuance total.
    """
    if claimed_total < 0:
        raise ValueError(f"claimed total {claimed_total} is negative")
    return _EXACT.multiply(claimed_total, estimate.conservative_ratio)
