from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from poa_manager.geo import Point
from poa_manager.sites.eligibility import (
    Boundary,
    Candidate,
    Conflict,
    ConflictKind,
    Criterion,
    CriterionKind,
    Declarations,
    MeterFacts,
    Outcome,
    RelatedActivity,
    assess,
)

K = CriterionKind
CHECKED_ON = date(2025, 3, 1)
METER = MeterFacts("M-001", "0.2S", date(2024, 6, 1), date(2026, 5, 31))

# A site that passes every criterion below; each case changes one fact.
SITE = Candidate(
    reference="CPA-0007",
    location=Point(Decimal("10.80"), Decimal("106.70")),
    country_code="VN",
    admin_code="VN-SG",
    technology="solar_pv",
    capacity_kw=Decimal("250"),
    commissioned_on=date(2024, 11, 15),
    meters=(METER,),
    equipment_serials=("INV-1001", "INV-1002"),
    equipment_models=("SUN2000-100KTL",),
    document_kinds=frozenset({"commissioning_certificate", "eia_screening", "stakeholder_consultation"}),
    declarations=Declarations(public_support=False),
    applicability_answers={"AMS-I.D-1": True, "AMS-I.D-2": True},
    conflicts=(),
    related_activities=(),
)

# Around Ho Chi Minh City, with a hole over an excluded area; GeoJSON order is [lon, lat].
OUTER = [[106.0, 10.0], [107.5, 10.0], [107.5, 11.5], [106.0, 11.5], [106.0, 10.0]]
HOLE = [[106.9, 10.9], [107.1, 10.9], [107.1, 11.1], [106.9, 11.1], [106.9, 10.9]]
POLYGON = Boundary.from_geojson({"type": "Polygon", "coordinates": [OUTER, HOLE]})
MULTIPOLYGON = Boundary.from_geojson(
    {
        "type": "MultiPolygon",
        "coordinates": [
            [[[105.0, 9.0], [105.5, 9.0], [105.5, 9.5], [105.0, 9.5], [105.0, 9.0]]],
            [OUTER, HOLE],
        ],
    }
)


def check(kind, params=None, *, boundary=None, checked_on=CHECKED_ON, **changes):
    criterion = Criterion("EC-01", "test criterion", kind, params or {})
    report = assess(replace(SITE, **changes), [criterion], boundary=boundary, checked_on=checked_on)
    (result,) = report.results
    return result


def at(lat: str, lon: str) -> Point:
    return Point(Decimal(lat), Decimal(lon))


def related(reference="CPA-0003", **facts) -> RelatedActivity:
    values = {
        "registry": "CDM",
        "same_participant": True,
        "technology": "solar_pv",
        "distance_m": Decimal("400"),
        "capacity_kw": Decimal("10000"),
        "registered_on": date(2024, 1, 10),
    }
    return RelatedActivity(reference, **(values | facts))


def assert_result(result, outcome: Outcome, fragment: str) -> None:
    assert (result.outcome, fragment in result.reason) == (outcome, True), (result.outcome, result.reason)


# --- location_in_boundary (domain.md §1.4 a) ----------------------------------------------------


@pytest.mark.parametrize(
    ("boundary", "changes", "params", "outcome", "fragment"),
    [
        pytest.param(
            POLYGON, {}, {}, Outcome.passed, "is inside the programme boundary", id="polygon-inside"
        ),
        pytest.param(
            POLYGON, {"location": at("11.0", "107.0")}, {}, Outcome.failed, "is outside", id="polygon-hole"
        ),
        pytest.param(
            POLYGON, {"location": at("12", "106.7")}, {}, Outcome.failed, "outside", id="polygon-outside"
        ),
        pytest.param(
            POLYGON, {"location": at("10.0", "106.7")}, {}, Outcome.passed, "inside", id="polygon-edge"
        ),
        pytest.param(
            POLYGON, {"location": at("10.9", "107.0")}, {}, Outcome.passed, "inside", id="hole-edge"
        ),
        pytest.param(
            MULTIPOLYGON, {"location": at("9.2", "105.2")}, {}, Outcome.passed, "inside", id="multi-1"
        ),
        pytest.param(MULTIPOLYGON, {}, {}, Outcome.passed, "inside", id="multi-2"),
        pytest.param(
            MULTIPOLYGON, {"location": at("9.7", "105.7")}, {}, Outcome.failed, "outside", id="multi-gap"
        ),
        pytest.param(
            POLYGON, {"location": None}, {}, Outcome.needs_review, "no coordinates", id="no-location"
        ),
        pytest.param(None, {}, {}, Outcome.needs_review, "no boundary recorded", id="no-boundary"),
        pytest.param(
            Boundary.from_geojson({"type": "Polygon", "coordinates": [OUTER[:-1]]}),
            {},
            {},
            Outcome.needs_review,
            "not valid GeoJSON",
            id="invalid-boundary",
        ),
        pytest.param(Boundary.from_codes(["VN"]), {}, {}, Outcome.passed, "country VN", id="country"),
        pytest.param(
            Boundary.from_codes(["LA", "KH"]), {}, {}, Outcome.failed, "outside", id="other-country"
        ),
        pytest.param(
            Boundary.from_codes(["vn-sg", "VN-HN"]), {}, {}, Outcome.passed, "inside", id="province"
        ),
        pytest.param(Boundary.from_codes(["VN-HN"]), {}, {}, Outcome.failed, "outside", id="other-province"),
        pytest.param(
            Boundary.from_codes(["LA", "VN-SG"]), {}, {}, Outcome.passed, "inside", id="country-or-province"
        ),
        pytest.param(
            Boundary.from_codes(["VN-HN"]),
            {"admin_code": None},
            {},
            Outcome.needs_review,
            "no province code",
            id="no-province-code",
        ),
        pytest.param(
            Boundary.from_codes(["VN"]),
            {"country_code": None, "admin_code": None},
            {},
            Outcome.needs_review,
            "no country code",
            id="no-country-code",
        ),
        pytest.param(
            Boundary.from_codes(["VN"]),
            {"location": None},
            {"require_coordinates": True},
            Outcome.needs_review,
            "no coordinates",
            id="codes-but-coordinates-required",
        ),
        pytest.param(
            Boundary.from_codes(["VN"]),
            {"admin_code": "LA-VT"},
            {},
            Outcome.needs_review,
            "province LA-VT is not in country VN",
            id="inconsistent-codes",
        ),
    ],
)
def test_location_in_boundary(boundary, changes, params, outcome, fragment):
    assert_result(check(K.location_in_boundary, params, boundary=boundary, **changes), outcome, fragment)


def test_a_boundary_is_either_geometry_or_codes():
    assert Boundary.from_codes([" vn ", "VN-SG"]) == Boundary(countries={"VN"}, admin_areas={"VN-SG"})
    with pytest.raises(ValueError):
        Boundary()
    with pytest.raises(ValueError):
        Boundary(geometry=POLYGON.geometry, countries={"VN"})
    assert POLYGON.problems() == [] and Boundary.from_codes(["VN"]).problems() == []


# --- technology_allowed (§1.4 c) ----------------------------------------------------------------

TECHNOLOGIES = {"technologies": ["solar_pv", "wind"]}
MODELS = TECHNOLOGIES | {"approved_models": ["SUN2000-100KTL", "SUN2000-50KTL"]}


@pytest.mark.parametrize(
    ("params", "changes", "outcome", "fragment"),
    [
        (TECHNOLOGIES, {}, Outcome.passed, "technology solar_pv is allowed"),
        (TECHNOLOGIES, {"technology": "Solar_PV "}, Outcome.passed, "is allowed"),
        (TECHNOLOGIES, {"technology": "diesel"}, Outcome.failed, "diesel is not one the programme allows"),
        (TECHNOLOGIES, {"technology": None}, Outcome.needs_review, "no technology recorded"),
        (MODELS, {}, Outcome.passed, "every equipment model is approved"),
        (
            MODELS,
            {"equipment_models": ("SUN2000-100KTL", "X-9")},
            Outcome.failed,
            "X-9 is not on the approved",
        ),
        (MODELS, {"equipment_models": ()}, Outcome.needs_review, "no equipment models"),
    ],
)
def test_technology_allowed(params, changes, outcome, fragment):
    assert_result(check(K.technology_allowed, params, **changes), outcome, fragment)


# --- capacity_range (§1.4 f, k; §1.6) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "capacity", "outcome", "fragment"),
    [
        ({}, "250", Outcome.passed, "respects the small-scale limit of 15 000 kW"),
        ({}, "15000", Outcome.passed, "respects"),  # "up to 15 MW" includes 15 MW
        ({}, "15000.001", Outcome.failed, "exceeds the small-scale limit"),
        ({"scale": "microscale"}, "5000", Outcome.passed, "microscale limit of 5 000 kW"),
        (
            {"scale": "microscale"},
            "6000",
            Outcome.failed,
            "6 000 kW exceeds the microscale limit of 5 000 kW",
        ),
        ({"small_scale_limit_kw": "10000"}, "12000", Outcome.failed, "limit of 10 000 kW"),
        ({"scale": "large_scale", "max_kw": "100000"}, "50000", Outcome.passed, "maximum of 100 000 kW"),
        ({"min_kw": "50"}, "40", Outcome.failed, "capacity 40 kW is below the programme minimum of 50 kW"),
        (
            {"max_kw": "1000"},
            "1200.5",
            Outcome.failed,
            "1 200.5 kW exceeds the programme maximum of 1 000 kW",
        ),
        ({"min_kw": "50", "max_kw": "1000"}, "250", Outcome.passed, "minimum of 50 kW and the programme max"),
        ({}, None, Outcome.needs_review, "no installed capacity recorded"),
        ({}, "0", Outcome.needs_review, "not a plausible installed capacity"),
    ],
)
def test_capacity_range(params, capacity, outcome, fragment):
    capacity_kw = None if capacity is None else Decimal(capacity)
    assert_result(check(K.capacity_range, params, capacity_kw=capacity_kw), outcome, fragment)


def test_capacity_over_the_limit_is_explained_in_the_coordinators_words():
    result = check(K.capacity_range, capacity_kw=Decimal("16000"))
    assert result.observed == "capacity 16 000 kW"
    assert result.reason == "capacity 16 000 kW exceeds the small-scale limit of 15 000 kW"


# --- commissioning_window (§1.4 d) --------------------------------------------------------------

FROM_2024 = {"not_before": "2024-01-01"}


@pytest.mark.parametrize(
    ("params", "commissioned_on", "outcome", "fragment"),
    [
        (FROM_2024, date(2024, 11, 15), Outcome.passed, "is on or after 2024-01-01"),
        (FROM_2024, date(2024, 1, 1), Outcome.passed, "on or after"),
        (FROM_2024, date(2023, 12, 31), Outcome.failed, "before the earliest allowed date 2024-01-01"),
        (
            FROM_2024 | {"not_after": "2024-06-30"},
            date(2024, 11, 15),
            Outcome.failed,
            "after the latest allowed",
        ),
        (FROM_2024, None, Outcome.needs_review, "no commissioning date"),
        (FROM_2024, date(2025, 6, 1), Outcome.needs_review, "after the check date 2025-03-01"),
        (FROM_2024 | {"allow_future": True}, date(2025, 6, 1), Outcome.passed, "on or after"),
        ({"not_after": "2024-12-31"}, date(2026, 1, 1), Outcome.failed, "after the latest allowed"),
    ],
)
def test_commissioning_window(params, commissioned_on, outcome, fragment):
    assert_result(check(K.commissioning_window, params, commissioned_on=commissioned_on), outcome, fragment)


# --- meter_accuracy (§7) ------------------------------------------------------------------------

REVENUE_CLASSES = {"accepted_classes": ["0.2S", "0.5S"]}


@pytest.mark.parametrize(
    ("params", "meters", "outcome", "fragment"),
    [
        (REVENUE_CLASSES, (METER,), Outcome.passed, "calibration valid on 2025-03-01"),
        (REVENUE_CLASSES, (replace(METER, accuracy_class="class 0.2 s"),), Outcome.passed, "accepted"),
        (
            REVENUE_CLASSES,
            (replace(METER, accuracy_class="1.0"),),
            Outcome.failed,
            "is class 1.0, not one of",
        ),
        (
            REVENUE_CLASSES,
            (replace(METER, calibration_valid_until=date(2025, 2, 28)),),
            Outcome.failed,
            "meter M-001 calibration expired on 2025-02-28",
        ),
        (REVENUE_CLASSES, (replace(METER, calibration_valid_until=CHECKED_ON),), Outcome.passed, "valid on"),
        (REVENUE_CLASSES, (replace(METER, accuracy_class=None),), Outcome.needs_review, "no accuracy class"),
        (
            REVENUE_CLASSES,
            (replace(METER, calibration_valid_until=None),),
            Outcome.needs_review,
            "no calibration expiry recorded",
        ),
        (
            REVENUE_CLASSES | {"calibration_interval_days": 365},
            (replace(METER, calibration_valid_until=None),),
            Outcome.passed,
            "valid on",
        ),
        (
            REVENUE_CLASSES | {"calibration_interval_days": 180},
            (replace(METER, calibration_valid_until=None),),
            Outcome.failed,
            "expired on 2024-11-28",
        ),
        (
            REVENUE_CLASSES,
            (replace(METER, calibrated_on=date(2025, 4, 1)),),
            Outcome.needs_review,
            "calibration date 2025-04-01 is after the check date",
        ),
        (REVENUE_CLASSES, (), Outcome.needs_review, "the site has 0 meters recorded; at least 1 needed"),
        (REVENUE_CLASSES | {"min_meters": 2}, (METER,), Outcome.needs_review, "at least 2 needed"),
        (
            REVENUE_CLASSES,
            (replace(METER, accuracy_class=None), replace(METER, serial="M-002", accuracy_class="2")),
            Outcome.failed,  # a failure outweighs a missing fact
            "meter M-002 is class 2",
        ),
    ],
)
def test_meter_accuracy(params, meters, outcome, fragment):
    assert_result(check(K.meter_accuracy, params, meters=meters), outcome, fragment)


# --- documents_present (§1.4 c, g) --------------------------------------------------------------

DOCUMENTS = {"document_kinds": ["eia_screening", "stakeholder_consultation"]}


@pytest.mark.parametrize(
    ("params", "documents", "outcome", "fragment"),
    [
        (DOCUMENTS, SITE.document_kinds, Outcome.passed, "every required document is present"),
        (DOCUMENTS, {"eia_screening"}, Outcome.failed, "missing required document: stakeholder_consultation"),
        (DOCUMENTS, set(), Outcome.failed, "eia_screening, stakeholder_consultation"),
    ],
)
def test_documents_present(params, documents, outcome, fragment):
    assert_result(check(K.documents_present, params, document_kinds=documents), outcome, fragment)


# --- methodology_applicability (§1.4 e) ---------------------------------------------------------

CONDITIONS = {"conditions": ["AMS-I.D-1", "AMS-I.D-2"]}


@pytest.mark.parametrize(
    ("answers", "outcome", "fragment"),
    [
        (
            {"AMS-I.D-1": True, "AMS-I.D-2": True},
            Outcome.passed,
            "every applicability condition is answered yes",
        ),
        ({"AMS-I.D-1": True, "AMS-I.D-2": False}, Outcome.failed, "condition AMS-I.D-2 is answered no"),
        ({"AMS-I.D-1": True}, Outcome.needs_review, "condition AMS-I.D-2 is not answered yet"),
        ({"AMS-I.D-1": True, "AMS-I.D-2": "yes"}, Outcome.needs_review, "not answered yet"),
        ({"AMS-I.D-1": False}, Outcome.failed, "AMS-I.D-1 is answered no"),
    ],
)
def test_methodology_applicability(answers, outcome, fragment):
    assert_result(
        check(K.methodology_applicability, CONDITIONS, applicability_answers=answers), outcome, fragment
    )


# --- no_double_counting (§1.4 b, §1.9) ----------------------------------------------------------

SAME_METER = Conflict(ConflictKind.duplicate_meter_serial, "M-001", "VPA-0042", "Gold Standard")
OTHER_REGISTRY = Conflict(
    ConflictKind.other_registry, "same coordinates and inverter serials", "VCS-1234", "Verra"
)
EXCLUDED = Conflict(ConflictKind.permanent_exclusion, "excluded on 2023-05-02", "CPA-0099", "CDM")
NEAR = Conflict(ConflictKind.nearby_same_technology, "rooftop solar", "CPA-0011", "CDM", Decimal("35"))
NEAR_BUT_OUTSIDE = replace(NEAR, distance_m=Decimal("150"))


@pytest.mark.parametrize(
    ("params", "changes", "outcome", "fragment"),
    [
        ({}, {}, Outcome.passed, "no duplicate, exclusion or other registration"),
        ({}, {"conflicts": None}, Outcome.needs_review, "were not run"),
        ({}, {"conflicts": (SAME_METER,)}, Outcome.failed, "other registration VPA-0042 in Gold Standard"),
        ({}, {"conflicts": (OTHER_REGISTRY,)}, Outcome.failed, "VCS-1234 in Verra"),
        ({}, {"conflicts": (EXCLUDED,)}, Outcome.failed, "never re-includable: excluded on 2023-05-02"),
        ({}, {"conflicts": (NEAR,)}, Outcome.needs_review, "same technology nearby: rooftop solar"),
        ({}, {"conflicts": (NEAR,)}, Outcome.needs_review, "CPA-0011 in CDM), 35 m away"),
        ({}, {"conflicts": (NEAR_BUT_OUTSIDE,)}, Outcome.passed, "no duplicate"),
        ({"nearby_radius_m": "200"}, {"conflicts": (NEAR_BUT_OUTSIDE,)}, Outcome.needs_review, "150 m away"),
        (
            {"conflict_kinds": [*ConflictKind], "review_kinds": []},
            {"conflicts": (NEAR,)},
            Outcome.failed,
            "CPA-0011",
        ),
        ({}, {"conflicts": (NEAR, SAME_METER)}, Outcome.failed, "VPA-0042"),
        (
            {"conflict_kinds": ["permanent_exclusion"], "review_kinds": []},
            {"conflicts": (SAME_METER,)},
            Outcome.passed,  # kinds the programme does not check are ignored
            "no duplicate",
        ),
        (
            {},
            {"meters": (METER, replace(METER, serial="m-001 "))},
            Outcome.failed,
            "meter serial m-001 appears 2 times on this site",
        ),
        (
            {},
            {"equipment_serials": ("INV-1", "INV-1")},
            Outcome.failed,
            "equipment serial inv-1 appears 2 times",
        ),
        ({}, {"meters": (replace(METER, serial=" "),)}, Outcome.needs_review, "a meter serial is blank"),
    ],
)
def test_no_double_counting(params, changes, outcome, fragment):
    assert_result(check(K.no_double_counting, params, **changes), outcome, fragment)


# --- debundling (§1.6) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "changes", "outcome", "fragment"),
    [
        (
            {},
            {},
            Outcome.passed,
            "no registered activity of the same participant and technology within 1 000 m",
        ),
        ({}, {"related_activities": None}, Outcome.needs_review, "have not been looked up"),
        ({}, {"capacity_kw": None}, Outcome.needs_review, "no installed capacity"),
        ({}, {"technology": None}, Outcome.needs_review, "no technology"),
        (
            {},
            {"related_activities": (related(),)},
            Outcome.passed,
            "with CPA-0003 stays within the small-scale",
        ),
        (
            {},
            {"related_activities": (related(capacity_kw=Decimal("14750")),)},
            Outcome.passed,  # 15 000 kW combined: "up to" the limit
            "stays within",
        ),
        (
            {},
            {"related_activities": (related(capacity_kw=Decimal("14900")),)},
            Outcome.failed,
            "combined capacity 15 150 kW of this site and CPA-0003 (same participant and technology within "
            "1 000 m) exceeds the small-scale limit of 15 000 kW",
        ),
        (
            {},
            {"related_activities": (related(), related("CPA-0004", capacity_kw=Decimal("5000")))},
            Outcome.failed,
            "15 250 kW of this site and CPA-0003, CPA-0004",
        ),
        (
            {},
            {"related_activities": (related(capacity_kw=Decimal("14900"), same_participant=False),)},
            Outcome.passed,
            "no registered activity",
        ),
        (
            {},
            {"related_activities": (related(capacity_kw=Decimal("14900"), technology="hydro"),)},
            Outcome.passed,
            "no registered activity",
        ),
        (
            {},
            {"related_activities": (related(capacity_kw=Decimal("14900"), distance_m=Decimal("1000.001")),)},
            Outcome.passed,
            "no registered activity",
        ),
        (
            {"radius_m": "2000"},
            {"related_activities": (related(capacity_kw=Decimal("14900"), distance_m=Decimal("1500")),)},
            Outcome.failed,
            "within 2 000 m",
        ),
        ({}, {"related_activities": (related(distance_m=None),)}, Outcome.needs_review, "of CPA-0003 is not"),
        ({}, {"related_activities": (related(technology=None),)}, Outcome.needs_review, "CPA-0003"),
        (
            {"scale": "microscale"},
            {"related_activities": (related(capacity_kw=Decimal("4900")),)},
            Outcome.failed,
            "exceeds the microscale limit of 5 000 kW",
        ),
        (
            {"lookback_years": 2},
            {"related_activities": (related(capacity_kw=Decimal("14900"), registered_on=date(2023, 2, 28)),)},
            Outcome.passed,  # registered more than 2 years before the check on 2025-03-01
            "no registered activity",
        ),
        (
            {"lookback_years": 2},
            {"related_activities": (related(capacity_kw=Decimal("14900"), registered_on=date(2023, 3, 1)),)},
            Outcome.failed,
            "exceeds",
        ),
        (
            {"lookback_years": 2},
            {"related_activities": (related(registered_on=None),)},
            Outcome.needs_review,
            "date of CPA-0003",
        ),
    ],
)
def test_debundling(params, changes, outcome, fragment):
    assert_result(check(K.debundling, params, **changes), outcome, fragment)


def test_debundling_counts_old_activities_unless_a_lookback_is_set():
    old = (related(capacity_kw=Decimal("14900"), registered_on=date(2015, 1, 1)),)
    assert check(K.debundling, related_activities=old).outcome is Outcome.failed


# --- financial_support_declared (§1.4 h, §4.5) --------------------------------------------------

SUPPORTED = Declarations(
    public_support=True,
    funding_sources=("MOEJ JCM model project",),
    oda_not_diverted=True,
    support_share=Decimal("0.4"),
)


@pytest.mark.parametrize(
    ("params", "declarations", "outcome", "fragment"),
    [
        ({}, Declarations(public_support=False), Outcome.passed, "declares no public financial support"),
        ({}, Declarations(), Outcome.needs_review, "no declaration on public financial support"),
        (
            {},
            Declarations(public_support=False, funding_sources=("JICA",)),
            Outcome.needs_review,
            "says no public support but names funding sources",
        ),
        ({}, SUPPORTED, Outcome.passed, "declared in full"),
        ({}, replace(SUPPORTED, funding_sources=()), Outcome.needs_review, "no funding source is named"),
        ({}, replace(SUPPORTED, oda_not_diverted=None), Outcome.needs_review, "does not divert aid"),
        ({}, replace(SUPPORTED, oda_not_diverted=False), Outcome.failed, "does not confirm"),
        (
            {"require_oda_confirmation": False},
            replace(SUPPORTED, oda_not_diverted=None),
            Outcome.passed,
            "in full",
        ),
        ({"max_support_share": "0.5"}, SUPPORTED, Outcome.passed, "within the limits"),
        (
            {"max_support_share": "0.5"},
            replace(SUPPORTED, support_share=Decimal("0.5")),
            Outcome.passed,
            "limits",
        ),
        (
            {"max_support_share": "0.5"},
            replace(SUPPORTED, support_share=Decimal("0.6")),
            Outcome.failed,
            "public support covers 60 % of the initial investment, above the maximum of 50 %",
        ),
        (
            {"max_support_share": "0.5"},
            replace(SUPPORTED, support_share=None),
            Outcome.needs_review,
            "share of the initial investment",
        ),
    ],
)
def test_financial_support_declared(params, declarations, outcome, fragment):
    assert_result(check(K.financial_support_declared, params, declarations=declarations), outcome, fragment)


# --- The report ---------------------------------------------------------------------------------

CRITERIA = [
    Criterion("EC-01", "Inside the programme boundary", K.location_in_boundary),
    Criterion("EC-02", "Grid-connected solar PV only", K.technology_allowed, {"technologies": ["solar_pv"]}),
    Criterion("EC-03", "Small scale: at most 15 MW", K.capacity_range),
    Criterion("EC-04", "Revenue-grade meters", K.meter_accuracy, REVENUE_CLASSES),
]


def test_a_site_meeting_every_criterion_is_eligible():
    report = assess(SITE, CRITERIA, boundary=POLYGON, checked_on=CHECKED_ON)
    assert [result.code for result in report.results] == ["EC-01", "EC-02", "EC-03", "EC-04"]
    assert report.results[1].description == "Grid-connected solar PV only"
    assert report.eligible and not report.needs_review and report.failed == []
    assert report.summary == "Eligible: all 4 criteria passed."


def test_one_failure_makes_the_site_ineligible_and_names_the_code():
    report = assess(
        replace(SITE, capacity_kw=Decimal("16000")), CRITERIA, boundary=POLYGON, checked_on=CHECKED_ON
    )
    assert not report.eligible and not report.needs_review
    assert [result.code for result in report.failed] == ["EC-03"]
    assert report.summary == "Not eligible: 1 of 4 criteria failed (EC-03)."


def test_missing_facts_need_review_and_never_pass_silently():
    site = replace(SITE, location=None, meters=())
    report = assess(site, CRITERIA, boundary=POLYGON, checked_on=CHECKED_ON)
    assert report.needs_review and not report.eligible
    assert [result.code for result in report.to_review] == ["EC-01", "EC-04"]
    assert report.summary == "Needs review: 2 of 4 criteria need review (EC-01, EC-04); none failed."


def test_summary_lists_failures_and_reviews_together():
    site = replace(SITE, location=None, capacity_kw=Decimal("16000"))
    report = assess(site, CRITERIA, boundary=POLYGON, checked_on=CHECKED_ON)
    assert report.summary == "Not eligible: 1 of 4 criteria failed (EC-03); 1 needs review (EC-01)."


def test_no_criteria_is_not_eligible():
    report = assess(SITE, [], boundary=POLYGON, checked_on=CHECKED_ON)
    assert not report.eligible and report.needs_review
    assert "no eligibility criteria" in report.summary


def test_a_misconfigured_criterion_needs_review_instead_of_crashing():
    broken = Criterion("EC-09", "Meters", K.meter_accuracy, {"accepted_classes": "0.2S"})
    (result,) = assess(SITE, [broken], boundary=None, checked_on=CHECKED_ON).results
    assert result.outcome is Outcome.needs_review
    assert "misconfigured (accepted_classes: expected a list of texts" in result.reason


def test_the_check_date_must_be_a_date():
    with pytest.raises(TypeError):
        assess(SITE, CRITERIA, boundary=POLYGON, checked_on=datetime(2025, 3, 1, 12, 0))


def test_report_to_data_is_plain_text():
    report = assess(SITE, CRITERIA[:1], boundary=POLYGON, checked_on=CHECKED_ON)
    assert report.to_data() == [
        {
            "code": "EC-01",
            "description": "Inside the programme boundary",
            "kind": "location_in_boundary",
            "outcome": "passed",
            "observed": "coordinates (10.80, 106.70)",
            "reason": "the site at (10.80, 106.70) is inside the programme boundary",
        }
    ]


def test_candidate_refuses_a_float_capacity():
    with pytest.raises(TypeError):
        replace(SITE, capacity_kw=250.0)
