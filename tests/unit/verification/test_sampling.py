"""Sampling for verification, domain.md §2: its worked numbers and small hand-computed examples."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poa_manager.verification import sampling as smp
from poa_manager.verification.sampling import (
    LARGE_SCALE_OR_GROUP,
    SMALL_SCALE,
    Finding,
    Reliability,
    Stratum,
)

D = Decimal


# --- Reliability ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confidence", "z"),
    [("0.90", 1.6449), ("0.95", 1.9600), ("0.99", 2.5758)],  # two-sided normal quantiles
)
def test_z_is_the_two_sided_normal_quantile(confidence, z):
    assert Reliability(D(confidence), D("0.10")).z == pytest.approx(z, abs=5e-5)


def test_default_reliabilities_are_90_10_and_95_10():
    # domain.md §2.1: 90/10 small-scale, 95/10 large-scale or one plan over a group of CPAs.
    assert (SMALL_SCALE.confidence, SMALL_SCALE.precision) == (D("0.90"), D("0.10"))
    assert (LARGE_SCALE_OR_GROUP.confidence, LARGE_SCALE_OR_GROUP.precision) == (D("0.95"), D("0.10"))


@pytest.mark.parametrize(("confidence", "precision"), [("0", "0.1"), ("1", "0.1"), ("0.9", "0")])
def test_reliability_rejects_impossible_levels(confidence, precision):
    with pytest.raises(ValueError):
        Reliability(D(confidence), D(precision))


# --- Sample sizes (domain.md §2.2 worked numbers) ------------------------------------------------


@pytest.mark.parametrize(
    ("population", "reliability", "exact", "n"),
    [
        (500, SMALL_SCALE, 59.7, 60),
        (500, LARGE_SCALE_OR_GROUP, 80.7, 81),
        (5000, SMALL_SCALE, 66.8, 67),
        (5000, LARGE_SCALE_OR_GROUP, 94.3, 95),  # 94.25: the table rounds it to 94.3
        (None, SMALL_SCALE, 67.7, 68),  # 67.64 (z = 1.6449); the table shows 67.7
        (None, LARGE_SCALE_OR_GROUP, 96.0, 97),
    ],
)
def test_mean_sample_size_matches_the_worked_table(population, reliability, exact, n):
    size = smp.sample_size_mean(population, 0.5, reliability)
    assert size.exact == pytest.approx(exact, abs=0.1)
    assert size.n == n


@pytest.mark.parametrize(
    ("p", "reliability", "exact", "n"),
    [
        (0.9, SMALL_SCALE, 29.9, 30),
        (0.9, LARGE_SCALE_OR_GROUP, 42.3, 43),
        (0.5, SMALL_SCALE, 256.8, 257),  # 256.71
        (0.5, LARGE_SCALE_OR_GROUP, 356.8, 357),
    ],
)
def test_proportion_sample_size_matches_the_worked_table(p, reliability, exact, n):
    size = smp.sample_size_proportion(5000, p, reliability)
    assert size.exact == pytest.approx(exact, abs=0.1)
    assert size.n == n


def test_proportion_sample_size_for_an_infinite_population():
    # n0 = z²·(1−p)/(e²·p) = 1.6449²·0.1/(0.01·0.9) = 30.06 → 31 (one more than N = 5000 needs).
    size = smp.sample_size_proportion(None, 0.9, SMALL_SCALE)
    assert size.exact == pytest.approx(30.06, abs=0.01)
    assert size.n == 31


def test_sample_size_keeps_its_inputs_and_shows_the_substituted_formula():
    size = smp.sample_size_mean(500, 0.5, SMALL_SCALE)
    assert (size.kind, size.parameter, size.population, size.reliability) == ("mean", 0.5, 500, SMALL_SCALE)
    assert size.non_response == 0
    assert size.formula == (
        "n = N·z²·V² / ((N−1)·e² + z²·V²) = 500·1.6449²·0.5² / (499·0.10² + 1.6449²·0.5²) = 59.68 → 60"
    )


def test_non_response_inflates_the_rounded_size_and_rounds_up_again():
    # 60 / (1 − 0.1) = 66.67 → 67
    size = smp.sample_size_mean(500, 0.5, SMALL_SCALE, non_response=0.1)
    assert size.n == 67
    assert size.formula.endswith("; with 0.1 non-response: 60 / (1 − 0.1) = 66.67 → 67")


def test_non_response_inflation_is_not_tipped_up_by_float_noise():
    # 20.85 → 21 sites; 21 / (1 − 0.3) is exactly 30, though the float is 30.000000000000004.
    assert smp.sample_size_mean(None, 0.233, LARGE_SCALE_OR_GROUP, non_response=0.3).n == 30


def test_sample_size_never_exceeds_the_population():
    # 16.70 → 17, then 17 / 0.7 = 24.29 → 25 sites out of 20: all 20 are checked.
    size = smp.sample_size_mean(20, 0.5, LARGE_SCALE_OR_GROUP, non_response=0.3)
    assert size.n == 20
    assert size.formula.endswith("; capped at N = 20")
    assert smp.sample_size_proportion(1, 0.5, SMALL_SCALE).n == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: smp.sample_size_mean(500, 0, SMALL_SCALE),
        lambda: smp.sample_size_mean(0, 0.5, SMALL_SCALE),
        lambda: smp.sample_size_mean(500, 0.5, SMALL_SCALE, non_response=1),
        lambda: smp.sample_size_mean(500, 0.5, SMALL_SCALE, non_response=-0.1),
        lambda: smp.sample_size_proportion(500, 0, SMALL_SCALE),
        lambda: smp.sample_size_proportion(500, 1, SMALL_SCALE),
    ],
)
def test_sample_size_rejects_meaningless_inputs(call):
    with pytest.raises(ValueError):
        call()


# --- Stratified allocation (domain.md §2.3) ------------------------------------------------------

EXAMPLE_STRATA = {"A": Stratum(3000, 1), "B": Stratum(1500, 2), "C": Stratum(500, 4)}


def test_proportional_allocation_of_the_worked_example():
    assert smp.allocate(100, EXAMPLE_STRATA, "proportional") == {"A": 60, "B": 30, "C": 10}


def test_neyman_allocation_of_the_worked_example_breaks_the_tie_by_key():
    # 37.5/37.5/25: the one unit left over goes to the tied remainder whose key sorts first.
    assert smp.allocate(100, EXAMPLE_STRATA, "neyman") == {"A": 38, "B": 37, "C": 25}
    swapped = {"B": Stratum(3000, 1), "A": Stratum(1500, 2), "C": Stratum(500, 4)}
    assert smp.allocate(100, swapped, "neyman") == {"B": 37, "A": 38, "C": 25}


def test_largest_remainder_goes_to_the_largest_fraction_first():
    # 13 × 0.7/0.2/0.1 = 9.1/2.6/1.3: the integer parts make 12, and the last unit goes to B (.6),
    # not to A, whose key sorts first.
    strata = {"A": Stratum(700), "B": Stratum(200), "C": Stratum(100)}
    assert smp.allocate(13, strata, "proportional") == {"A": 9, "B": 3, "C": 1}


def test_a_stratum_smaller_than_its_share_is_taken_whole_and_the_rest_goes_elsewhere():
    # Neyman weights 1000 and 500: 33.3/16.7, but B has only 5 items.
    strata = {"A": Stratum(1000, 1), "B": Stratum(5, 100)}
    assert smp.allocate(50, strata, "neyman") == {"A": 45, "B": 5}


def test_every_non_empty_stratum_gets_at_least_one_and_an_empty_one_none():
    # 20 × 10/1000 = 0.2 for B: raised to 1, taken from A (19.8 → 19).
    strata = {"A": Stratum(990), "B": Stratum(10), "E": Stratum(0)}
    assert smp.allocate(20, strata, "proportional") == {"A": 19, "B": 1, "E": 0}


def test_a_stratum_without_variation_gets_one_item_under_neyman():
    strata = {"A": Stratum(100, 0), "B": Stratum(100, 1)}
    assert smp.allocate(10, strata, "neyman") == {"A": 1, "B": 9}
    with pytest.raises(ValueError, match="cannot absorb"):
        smp.allocate(10, {"A": Stratum(100, 0), "B": Stratum(100, 0)}, "neyman")


@pytest.mark.parametrize(
    ("n", "strata", "method"),
    [
        (5001, EXAMPLE_STRATA, "proportional"),  # more than the population
        (2, EXAMPLE_STRATA, "proportional"),  # fewer than one per stratum
        (100, {"A": Stratum(3000, 1), "B": Stratum(1500)}, "neyman"),  # B has no SD
        (100, EXAMPLE_STRATA, "systematic"),
    ],
)
def test_allocation_rejects_what_it_cannot_do(n, strata, method):
    with pytest.raises(ValueError):
        smp.allocate(n, strata, method)


# --- Reproducible draws (domain.md §2.4, §2.5) ---------------------------------------------------

FRAME = [f"S{i:03d}" for i in range(100)]


def test_the_same_seed_draws_the_same_sample_and_another_seed_another():
    sample = smp.draw_sample(FRAME, 10, seed=42)
    assert sample == smp.draw_sample(list(FRAME), 10, seed=42)
    assert len(set(sample)) == 10 and set(sample) <= set(FRAME)
    assert smp.draw_sample(FRAME, 10, seed=43) != sample
    assert sample != FRAME[:10]  # it is shuffled, not the head of the frame


def test_a_draw_is_pinned_so_a_stored_seed_repeats_across_python_versions():
    # Only Random.random() is promised to repeat across versions; this fails if the draw changes.
    frame = [f"S{i:02d}" for i in range(20)]
    assert smp.draw_sample(frame, 5, seed=2024) == ["S01", "S00", "S12", "S14", "S08"]


def test_extending_a_sample_continues_the_same_sequence_without_repeats():
    first = smp.draw_sample(FRAME, 10, seed=7)
    more = smp.draw_sample(FRAME, 5, seed=7, already=10)
    assert first + more == smp.draw_sample(FRAME, 15, seed=7)
    assert not set(first) & set(more)


def test_drawing_the_whole_frame_is_a_permutation():
    assert sorted(smp.draw_sample(FRAME, len(FRAME), seed=1)) == FRAME


@pytest.mark.parametrize(
    ("frame", "n", "already"),
    [
        (["b", "a"], 1, 0),  # not sorted
        (["a", "a", "b"], 1, 0),  # duplicate
        (["a", "b"], 3, 0),  # more than the frame
        (["a", "b"], 1, 2),  # extension past the end
        (["a", "b"], -1, 0),
    ],
)
def test_draw_rejects_bad_frames_and_counts(frame, n, already):
    with pytest.raises(ValueError):
        smp.draw_sample(frame, n, seed=1, already=already)


def test_stratum_seeds_differ_by_stratum_and_by_plan_seed():
    assert smp.stratum_seed(1, "A") == smp.stratum_seed(1, "A")
    assert len({smp.stratum_seed(1, "A"), smp.stratum_seed(1, "B"), smp.stratum_seed(2, "A")}) == 3


def test_stratified_draw_is_reproducible_independent_per_stratum_and_extendable():
    frames = {"A": FRAME, "B": FRAME}
    drawn = smp.draw_stratified(frames, {"A": 4, "B": 4}, seed=99)
    assert drawn == smp.draw_stratified(frames, {"A": 4, "B": 4}, seed=99)
    assert drawn["A"] != drawn["B"]  # same frame, different derived seeds
    assert drawn["A"] == smp.draw_sample(FRAME, 4, seed=smp.stratum_seed(99, "A"))
    # Changing B's allocation leaves A's draw alone; extending B continues its own sequence.
    assert smp.draw_stratified(frames, {"A": 4, "B": 9}, seed=99)["A"] == drawn["A"]
    more = smp.draw_stratified(frames, {"B": 3}, seed=99, already={"B": 4})
    assert drawn["B"] + more["B"] == smp.draw_stratified(frames, {"B": 7}, seed=99)["B"]


def test_stratified_draw_needs_a_frame_for_every_allocated_stratum():
    with pytest.raises(ValueError, match="no sampling frame"):
        smp.draw_stratified({"A": FRAME}, {"A": 1, "B": 1}, seed=1)


# --- Mean estimates (domain.md §2.4 worked example) ----------------------------------------------


def test_the_worked_example_with_s_2_5_fails_the_target_and_uses_the_lower_bound():
    est = smp.estimate_mean_from_summary(D("5.0"), 2.5, 40, SMALL_SCALE)
    assert est.standard_error == pytest.approx(0.395, abs=5e-4)
    assert est.half_width == pytest.approx(0.650, abs=5e-4)
    assert est.achieved_precision == pytest.approx(0.130, abs=5e-4)
    assert not est.meets_target
    assert est.lower.quantize(D("0.01")) == D("4.35")
    assert est.lower == D("4.349814")  # 5 − 0.6501855 rounded down
    assert est.upper == D("5.650186")  # 5 + 0.6501855 rounded up
    assert est.conservative_value(increases_reductions=True) == est.lower
    assert est.conservative_value(increases_reductions=False) == est.upper


def test_the_worked_example_with_s_2_0_still_fails_with_a_lower_bound_of_4_48():
    est = smp.estimate_mean_from_summary(D("5.0"), 2.0, 40, SMALL_SCALE)
    assert est.achieved_precision == pytest.approx(0.104, abs=5e-4)
    assert not est.meets_target
    assert est.lower.quantize(D("0.01")) == D("4.48")


def test_a_mean_that_meets_the_target_is_used_as_it_is():
    # s = 1.0: z·SE = 1.6449 × 0.1581 = 0.260 → 5.2 %.
    est = smp.estimate_mean_from_summary(D("5.0"), 1.0, 40, SMALL_SCALE)
    assert est.meets_target
    assert est.conservative_value(increases_reductions=True) == D("5.0")


def test_estimate_mean_from_values_with_finite_population_correction():
    # 4, 5, 6, 5: mean 5, s² = 2/3; SE = √(2/3 / 4) = 0.40825; with N = 8, × √(1 − 4/8) = 0.28868.
    values = [D(4), D(5), D(6), D(5)]
    infinite = smp.estimate_mean(values, SMALL_SCALE)
    assert infinite.mean == D(5)
    assert infinite.sd == pytest.approx(math.sqrt(2 / 3))
    assert infinite.standard_error == pytest.approx(0.40825, abs=1e-5)
    assert smp.estimate_mean(values, SMALL_SCALE, population=8).standard_error == pytest.approx(
        0.28868, abs=1e-5
    )
    with pytest.raises(ValueError):
        smp.estimate_mean([D(5)], SMALL_SCALE)
    with pytest.raises(ValueError):
        smp.estimate_mean(values, SMALL_SCALE, population=3)


# --- Ratio estimator and correction of the whole request (domain.md §2.5) ------------------------

# Claimed 100/200/150/250/300 (Σ 1000), verified 95/190/150/240/285 (Σ 960): R = 0.96.
# Residuals v − R·c: −1, −2, 6, 0, −3 → Σ² = 50; c̄ = 200; s_R² = 50 / (4·5·200²) = 6.25e-5.
CLOSE = [Finding(D(c), D(v)) for c, v in [(100, 95), (200, 190), (150, 150), (250, 240), (300, 285)]]


def test_ratio_estimate_of_a_hand_computed_sample():
    est = smp.estimate_ratio(CLOSE, SMALL_SCALE)
    assert est.ratio == D("0.96")
    assert est.n == 5
    assert est.standard_error == pytest.approx(math.sqrt(6.25e-5))  # 0.0079057
    assert est.half_width == pytest.approx(1.6448536 * 0.0079057, abs=1e-6)  # 0.013004
    assert est.achieved_precision == pytest.approx(0.013004 / 0.96, abs=1e-5)  # 1.35 %
    assert (est.lower, est.upper) == (D("0.946996"), D("0.973004"))
    assert est.meets_target
    assert est.conservative_ratio == D("0.96")


def test_ratio_estimate_with_finite_population_correction():
    # N = 10 sites: s_R² × (1 − 5/10) = 3.125e-5 → SE 0.0055902.
    est = smp.estimate_ratio(CLOSE, SMALL_SCALE, population=10)
    assert est.standard_error == pytest.approx(math.sqrt(3.125e-5))
    assert est.population == 10
    assert (est.lower, est.upper) == (D("0.950804"), D("0.969196"))


def test_a_ratio_that_misses_the_target_falls_back_to_its_lower_bound():
    # Claimed 100 each, verified 100/50/100/20/100: R = 0.74; residuals 26, −24, 26, −54, 26
    # → Σ² = 5520; s_R² = 5520 / (20·100²) = 0.0276; z·SE = 1.6449 × 0.16613 = 0.27326 → 36.9 %.
    findings = [Finding(D(100), D(v)) for v in (100, 50, 100, 20, 100)]
    est = smp.estimate_ratio(findings, SMALL_SCALE)
    assert est.ratio == D("0.74")
    assert est.standard_error == pytest.approx(math.sqrt(0.0276))
    assert est.achieved_precision == pytest.approx(0.3693, abs=1e-4)
    assert not est.meets_target
    assert est.lower == D("0.466736")  # 0.74 − 0.2732636 = 0.4667364, rounded down
    assert est.conservative_ratio == D("0.466736")
    assert smp.corrected_total(D("12345.6"), est) == D("5762.1359616")  # exact product


def test_the_lower_bound_of_a_ratio_stops_at_zero():
    # R = 1/3 with z·SE ≈ 0.548: the interval reaches below zero.
    findings = [Finding(D(100), D(0)), Finding(D(100), D(0)), Finding(D(100), D(100))]
    est = smp.estimate_ratio(findings, SMALL_SCALE)
    assert est.lower == 0
    assert est.conservative_ratio == 0


def test_an_under_claimed_sample_never_raises_the_request():
    findings = [Finding(D(100), D(110)), Finding(D(200), D(220))]
    est = smp.estimate_ratio(findings, SMALL_SCALE)
    assert est.ratio == D("1.1") and est.meets_target
    assert est.conservative_ratio == 1
    assert smp.corrected_total(D(500), est) == D(500)


def test_corrected_total_uses_the_ratio_rounded_down_to_six_places():
    # Every site verified at exactly 2/3 of its claim: SE 0, R = 0.666666…, applied as 0.666666.
    findings = [Finding(D(c), D(v)) for c, v in [(3, 2), (6, 4), (9, 6)]]
    est = smp.estimate_ratio(findings, SMALL_SCALE)
    assert est.standard_error == 0 and est.meets_target
    assert est.conservative_ratio == D("0.666666")
    assert smp.corrected_total(D(300), est) == D("199.999800")  # half-up would give 200.000100
    assert smp.corrected_total(D(1000), smp.estimate_ratio(CLOSE, SMALL_SCALE)) == D(960)


@pytest.mark.parametrize(
    ("findings", "population"),
    [
        ([Finding(D(1), D(1))], None),  # a single site has no variance
        ([Finding(D(0), D(1)), Finding(D(0), D(2))], None),  # nothing claimed
        (CLOSE, 4),  # five sampled sites out of four
    ],
)
def test_ratio_estimate_rejects_what_it_cannot_estimate(findings, population):
    with pytest.raises(ValueError):
        smp.estimate_ratio(findings, SMALL_SCALE, population=population)


def test_findings_and_claimed_totals_cannot_be_negative():
    with pytest.raises(ValueError):
        Finding(D(-1), D(0))
    with pytest.raises(ValueError):
        smp.corrected_total(D(-1), smp.estimate_ratio(CLOSE, SMALL_SCALE))


# --- Stratified (combined) ratio estimator (domain.md §2.3, §2.5) --------------------------------

# A: 4 of N_A = 20 sites, claimed 100/100/200/200 (c̄ 150), verified 100/90/180/190 (v̄ 140).
# B: 2 of N_B = 20 sites, claimed 50/150 (c̄ 100), verified 40/120 (v̄ 80).
STRATUM_A = [Finding(D(c), D(v)) for c, v in [(100, 100), (100, 90), (200, 180), (200, 190)]]
STRATUM_B = [Finding(D(c), D(v)) for c, v in [(50, 40), (150, 120)]]


def _sample_variance(values):
    mean = sum(values, Fraction(0)) / len(values)
    return sum(((x - mean) ** 2 for x in values), Fraction(0)) / (len(values) - 1)


def test_stratified_ratio_of_a_hand_computed_two_stratum_sample():
    sizes = {"A": 20, "B": 20}
    est = smp.estimate_stratified_ratio({"A": STRATUM_A, "B": STRATUM_B}, sizes, SMALL_SCALE)
    # R_c = Σ N_h·v̄_h / Σ N_h·c̄_h = (20·140 + 20·80) / (20·150 + 20·100) = 4400 / 5000 = 0.88.
    ratio = Fraction(20 * 140 + 20 * 80, 20 * 150 + 20 * 100)
    assert ratio == Fraction("0.88")
    assert est.ratio == D("0.88")
    assert (est.n, est.population) == (6, 40)
    # d = v − 0.88·c: A 12, 2, 4, 14 (d̄ 8, s² = (4² + 6² + 4² + 6²)/3 = 104/3);
    #                 B −4, −12 (d̄ −8, s² = (4² + 4²)/1 = 32).
    d_a = [Fraction(v) - ratio * c for c, v in [(100, 100), (100, 90), (200, 180), (200, 190)]]
    d_b = [Fraction(v) - ratio * c for c, v in [(50, 40), (150, 120)]]
    assert (d_a, d_b) == ([12, 2, 4, 14], [-4, -12])
    s2_a, s2_b = _sample_variance(d_a), _sample_variance(d_b)
    assert (s2_a, s2_b) == (Fraction(104, 3), 32)
    # W = 20/40 = ½ each; X̄ = ½·150 + ½·100 = 125.
    # V = (¼·(1 − 4/20)·(104/3)/4 + ¼·(1 − 2/20)·32/2) / 125² = (26/15 + 18/5) / 15625 = 16/46875.
    w = Fraction(1, 2)
    x_bar = w * 150 + w * 100
    variance = (w**2 * (1 - Fraction(4, 20)) * s2_a / 4 + w**2 * (1 - Fraction(2, 20)) * s2_b / 2) / x_bar**2
    assert variance == Fraction(16, 46875)
    assert est.standard_error == pytest.approx(math.sqrt(variance))  # 0.0184752
    assert est.half_width == pytest.approx(1.6448536 * 0.0184752, abs=1e-6)  # 0.030389
    assert est.achieved_precision == pytest.approx(0.030389 / 0.88, abs=1e-5)  # 3.45 %
    assert (est.lower, est.upper) == (D("0.849610"), D("0.910390"))
    assert est.meets_target and est.conservative_ratio == D("0.88")
    assert smp.corrected_total(D(1000), est) == D(880)
    # Pooling the six sites would give 720/800 = 0.9: A, sampled at 1 in 5, would count twice as
    # much as B, sampled at 1 in 10.
    assert smp.estimate_ratio(STRATUM_A + STRATUM_B, SMALL_SCALE).ratio == D("0.9")
    # Taken about zero instead of about d̄_h, the residuals would give A Σd²/3 = 360/3, not 104/3.
    assert sum(d * d for d in d_a) / 3 == 120


def test_an_empty_stratum_needs_no_findings_and_changes_nothing():
    findings = {"A": STRATUM_A, "B": STRATUM_B}
    est = smp.estimate_stratified_ratio(findings, {"A": 20, "B": 20}, SMALL_SCALE)
    assert smp.estimate_stratified_ratio(findings, {"A": 20, "B": 20, "E": 0}, SMALL_SCALE) == est
    assert (
        smp.estimate_stratified_ratio({**findings, "E": []}, {"A": 20, "B": 20, "E": 0}, SMALL_SCALE) == est
    )


def test_one_stratum_gives_the_simple_ratio_estimate():
    # d̄ = Σv/n − R·Σc/n = 0 when R = Σv/Σc, so s²_d about d̄ is Σd²/(n−1) as in estimate_ratio:
    # residuals −1, −2, 6, 0, −3 → 50/4; V = (1 − 5/10)·(50/4)/5 / 200² = 3.125e-5.
    est = smp.estimate_stratified_ratio({"A": CLOSE}, {"A": 10}, SMALL_SCALE)
    assert est.ratio == D("0.96")
    assert (est.n, est.population) == (5, 10)
    assert est.standard_error == pytest.approx(math.sqrt((1 - 5 / 10) * (50 / 4) / 5 / 200**2))
    simple = smp.estimate_ratio(CLOSE, SMALL_SCALE, population=10)
    assert est.ratio == simple.ratio
    assert est.standard_error == pytest.approx(simple.standard_error)
    assert (est.lower, est.upper) == (simple.lower, simple.upper) == (D("0.950804"), D("0.969196"))
    # A ratio that does not terminate, 7/18 = 0.3888…, is rounded down the same way by both.
    ninths = [Finding(D(c), D(v)) for c, v in [(3, 1), (6, 2), (9, 4)]]
    one = smp.estimate_stratified_ratio({"A": ninths}, {"A": 50}, SMALL_SCALE)
    simple = smp.estimate_ratio(ninths, SMALL_SCALE, population=50)
    assert one.ratio == simple.ratio == D("0." + "3" + "8" * 59)
    assert one.standard_error == pytest.approx(simple.standard_error)


def test_a_stratum_sampled_whole_adds_no_variance_even_with_one_site():
    # A: its one site checked, 96 of 100. B: CLOSE, 5 of 10 (ratio 0.96, s²_d = 50/4).
    # R_c = (1·96 + 10·192) / (1·100 + 10·200) = 2016/2100 = 0.96; W_B = 10/11, X̄ = 2100/11.
    # V = (10/11)²·(1 − 5/10)·(50/4)/5 / (2100/11)² = 125/4410000: A contributes nothing.
    est = smp.estimate_stratified_ratio(
        {"A": [Finding(D(100), D(96))], "B": CLOSE}, {"A": 1, "B": 10}, SMALL_SCALE
    )
    assert est.ratio == D("0.96")
    assert (est.n, est.population) == (6, 11)
    variance = Fraction(10, 11) ** 2 * Fraction(1, 2) * Fraction(50, 4) / 5 / Fraction(2100, 11) ** 2
    assert variance == Fraction(125, 4410000)
    assert est.standard_error == pytest.approx(math.sqrt(variance))  # 0.0053240
    # Every stratum sampled whole: the ratio is known exactly.
    whole = smp.estimate_stratified_ratio(
        {"A": [Finding(D(100), D(90))], "B": [Finding(D(100), D(50)), Finding(D(300), D(300))]},
        {"A": 1, "B": 2},
        SMALL_SCALE,
    )
    assert whole.ratio == D("0.88")  # (90 + 2·175) / (100 + 2·200) = 440/500
    assert whole.standard_error == 0 and whole.meets_target
    assert (whole.lower, whole.upper) == (D("0.88"), D("0.88"))


def test_a_stratified_ratio_that_misses_the_target_stops_at_zero():
    # R_c = (30·100/3 + 2·50) / (30·100 + 2·50) = 1100/3100 = 11/31, rounded down at 60 digits.
    findings = {
        "A": [Finding(D(100), D(0)), Finding(D(100), D(0)), Finding(D(100), D(100))],
        "B": [Finding(D(50), D(50)), Finding(D(50), D(50))],
    }
    est = smp.estimate_stratified_ratio(findings, {"A": 30, "B": 2}, SMALL_SCALE)
    assert est.ratio == D("0." + "354838709677419" * 4)  # 11/31 = 0.(354838709677419)
    assert Fraction(est.ratio) < Fraction(11, 31)
    assert not est.meets_target
    assert est.lower == 0 and est.conservative_ratio == 0


@pytest.mark.parametrize(
    ("findings", "sizes", "message"),
    [
        ({"A": CLOSE, "X": CLOSE}, {"A": 10}, r"no stratum size for the strata \['X'\]"),
        ({"A": CLOSE}, {"A": 4}, "stratum 'A' has 5 sampled sites but only 4"),
        ({"A": CLOSE}, {"A": 10, "B": 3}, "stratum 'B' has 3 sites but none of them was sampled"),
        ({"A": CLOSE, "B": []}, {"A": 10, "B": 3}, "stratum 'B' has 3 sites but none"),
        ({"A": CLOSE, "B": CLOSE[:1]}, {"A": 10, "B": 0}, "stratum 'B' has 1 sampled sites but only 0"),
        ({"A": CLOSE}, {"A": 10, "B": -1}, "negative size"),
        ({"A": CLOSE[:1]}, {"A": 1}, "at least two sampled sites"),
        ({"A": CLOSE, "B": CLOSE[:1]}, {"A": 10, "B": 7}, "stratum 'B' has one sampled site out of 7"),
        (
            {"A": [Finding(D(0), D(1)), Finding(D(0), D(2))]},
            {"A": 10},
            "claimed nothing",
        ),
    ],
)
def test_stratified_ratio_rejects_what_it_cannot_estimate(findings, sizes, message):
    with pytest.raises(ValueError, match=message):
        smp.estimate_stratified_ratio(findings, sizes, SMALL_SCALE)


# --- Properties of allocation and draws (hypothesis) ---------------------------------------------

STRATUM_KEYS = st.text(alphabet="ABCDEFGH", min_size=1, max_size=2)
STRATA = st.dictionaries(
    STRATUM_KEYS,
    st.builds(
        Stratum,
        size=st.integers(0, 60),
        sd=st.one_of(st.just(0.0), st.floats(0, 100, allow_nan=False, allow_infinity=False)),
    ),
    min_size=1,
    max_size=6,
)
METHODS = st.sampled_from(["proportional", "neyman"])


def _capacity(strata, method):
    """The largest sample `allocate` can place: every item, but under Neyman one per S_h = 0 stratum."""
    if method == "proportional":
        return sum(s.size for s in strata.values())
    return sum(s.size if s.sd else min(s.size, 1) for s in strata.values())


def _weight(stratum, method):
    return Fraction(stratum.size) * (1 if method == "proportional" else Fraction(stratum.sd))


@st.composite
def plans(draw):
    """Strata, a method and a sample size that `allocate` can place."""
    strata, method = draw(STRATA), draw(METHODS)
    non_empty = sum(1 for s in strata.values() if s.size)
    return strata, method, draw(st.integers(non_empty, _capacity(strata, method)))


def _frames(strata):
    # Sorted ids, distinct across strata, so that any repeat in the sample would show.
    return {h: [f"{h}:{i:02d}" for i in range(s.size)] for h, s in strata.items()}


@settings(max_examples=200, deadline=None)
@given(strata=STRATA, method=METHODS, data=st.data())
def test_allocation_keeps_its_contract(strata, method, data):
    total = sum(s.size for s in strata.values())
    n = data.draw(st.integers(0, total), label="n")
    non_empty = sum(1 for s in strata.values() if s.size)
    if n < non_empty:
        with pytest.raises(ValueError, match="at least one item"):
            smp.allocate(n, strata, method)
        return
    if n > _capacity(strata, method):
        with pytest.raises(ValueError, match="cannot absorb"):
            smp.allocate(n, strata, method)
        return
    allocation = smp.allocate(n, strata, method)
    assert list(allocation) == list(strata)
    assert sum(allocation.values()) == n
    for h, s in strata.items():
        # Every non-empty stratum gets at least one and at most its size; an empty one none.
        assert min(s.size, 1) <= allocation[h] <= s.size
        if method == "neyman" and s.size and not s.sd:
            assert allocation[h] == 1  # no variation: one item shows it
    # A stratum that weighs at least as much and is at least as large gets at least as many, but
    # for one unit when the two shares tie and the other's key sorts first.
    for h, s in strata.items():
        for k, t in strata.items():
            if _weight(s, method) >= _weight(t, method) and s.size >= t.size:
                assert allocation[h] >= allocation[k] - (1 if k < h else 0)


@settings(max_examples=200, deadline=None)
@given(plan=plans(), seed=st.integers(0, 2**64 - 1), data=st.data())
def test_stratified_draws_follow_the_allocation_repeat_and_extend(plan, seed, data):
    strata, method, n = plan
    frames = _frames(strata)
    allocation = smp.allocate(n, strata, method)
    drawn = smp.draw_stratified(frames, allocation, seed=seed)
    assert list(drawn) == list(allocation)
    for h, items in drawn.items():
        # Each stratum gets exactly its allocation, distinct ids, all from its own frame.
        assert len(items) == allocation[h] == len(set(items))
        assert set(items) <= set(frames[h])
    everything = [item for items in drawn.values() for item in items]
    assert len(everything) == len(set(everything)) == n  # no site drawn twice in the sample
    assert smp.draw_stratified(frames, allocation, seed=seed) == drawn  # the seed repeats it

    extra = data.draw(
        st.fixed_dictionaries({h: st.integers(0, strata[h].size - allocation[h]) for h in strata}),
        label="extra",
    )
    more = smp.draw_stratified(frames, extra, seed=seed, already=allocation)
    grown = {h: allocation[h] + extra[h] for h in strata}
    extended = smp.draw_stratified(frames, grown, seed=seed)
    for h in strata:
        # The extension follows on from the first draw: a superset with the first draw as prefix.
        assert extended[h][: allocation[h]] == drawn[h]
        assert drawn[h] + more[h] == extended[h]
        assert len(set(extended[h])) == grown[h] and set(extended[h]) <= set(frames[h])
        assert not set(drawn[h]) & set(more[h])
