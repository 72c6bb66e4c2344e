"""CADT records: field names, picklist values and the mappings marked [U] in interop/cadt.py."""

import re
from datetime import date
from decimal import Decimal

import pytest

from poa_manager.interop import cadt

PROJECT = cadt.ProjectFacts(
    reference="VN-JCM-PoA-001",
    title="Rooftop solar in southern Viet Nam",
    programme_label="JCM",
    link="https://registry.example/programmes/1",
    developer="Solar CME Ltd",
    status="registered",
    status_date=date(2025, 2, 1),
    registry="POAM",
    sectoral_scopes=(1,),
    methodology_code="VN_AM007",
    methodology_version="1.0",
    methodology_title="Installation of Solar PV System",
    validation_body="Verifier Co",
    validation_date=date(2025, 1, 15),
    technologies=("solar_pv", "solar_pv"),
)
LOCATION = cadt.LocationFacts("VN-JCM-PoA-001", "CPA-0001", "VN", "VN-57", Decimal("10.9"), Decimal("106.8"))
ISSUANCE = cadt.IssuanceFacts(
    "ISS-00001", date(2025, 1, 1), date(2025, 6, 30), "Verifier Co", date(2025, 8, 1), 3, 12
)
UNIT = cadt.UnitFacts(
    programme_reference="VN-JCM-PoA-001",
    site_reference="CPA-0001",
    issuance_label="ISS-00001",
    serial="JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.000000001-000000150",
    serial_start=1,
    serial_end=150,
    vintage=2025,
    status="active",
    authorization_status="mitigation_outcome",
    owner="Government of Japan",
    owner_country_code="JP",
    link="https://registry.example/registry/serials?q=JCM.VN",
)


def test_a_project_has_cadts_fields_and_its_children():
    record = cadt.project_record(PROJECT, [LOCATION], [ISSUANCE])
    assert set(cadt.PROJECT_FIELDS) <= set(record)
    assert record["originProjectId"] == record["projectId"] == "VN-JCM-PoA-001"
    assert record["registryOfOrigin"] == "POAM"
    assert record["program"] == "JCM"
    assert record["projectDeveloper"] == "Solar CME Ltd"
    assert record["sector"] == "Energy (renewable/non-renewable)"
    assert record["unitMetric"] == "tCO2e"
    assert record["methodology"] == "VN_AM007: Installation of Solar PV System --- Version 1.0"
    assert record["projectStatus"] == "Registered" and record["projectStatusDate"] == "2025-02-01"
    assert (record["validationBody"], record["validationDate"]) == ("Verifier Co", "2025-01-15")
    assert record["coveredByNDC"] == "Unknown"
    assert record["projectTags"] == "Programme of Activities, solar_pv"
    assert record["projectLocations"] == [
        {
            "id": "VN-JCM-PoA-001/CPA-0001",
            "country": "Viet Nam",
            "inCountryRegion": "VN-57",
            "geographicIdentifier": "10.9,106.8",
        }
    ]
    assert record["issuances"][0] == {
        "id": "ISS-00001",
        "startDate": "2025-01-01",
        "endDate": "2025-06-30",
        "verificationApproach": "Sample-based verification: 3 of 12 sites checked on site or by documents",
        "verificationReportDate": "2025-08-01",
        "verificationBody": "Verifier Co",
    }


@pytest.mark.parametrize(
    ("status", "cadt_status"), [("draft", "Listed"), ("validated", "Listed"), ("registered", "Registered")]
)
def test_project_status(status, cadt_status):
    assert cadt.project_status(status) == cadt_status


def test_article_6_authorizations_fill_ndc_information():
    facts = cadt.ProjectFacts(**{**PROJECT.__dict__, "authorizations": ("LoA-1 v1 (CA0001)",)})
    assert cadt.project_record(facts)["ndcInformation"] == "Article 6.2 authorization: LoA-1 v1 (CA0001)"
    assert cadt.project_record(PROJECT)["ndcInformation"] is None


def test_a_unit_is_a_serial_block_with_holder_and_status():
    record = cadt.unit_record(UNIT)
    assert list(record) == list(cadt.UNIT_FIELDS)
    assert (record["unitBlockStart"], record["unitBlockEnd"], record["unitCount"]) == ("1", "150", 150)
    assert record["serialNumberBlock"] == UNIT.serial
    assert record["vintageYear"] == 2025
    assert (record["unitOwner"], record["countryJurisdictionOfOwner"]) == ("Government of Japan", "Japan")
    assert record["unitStatus"] == "Held"
    assert record["projectLocationId"] == "VN-JCM-PoA-001/CPA-0001" and record["issuanceId"] == "ISS-00001"
    assert record["unitType"] == "Reduction - technical"


def test_the_serial_pattern_reads_start_and_end_back_from_the_serial():
    start, end = re.fullmatch(cadt.SERIAL_NUMBER_PATTERN, UNIT.serial).groups()
    assert (int(start), int(end)) == (1, 150)


@pytest.mark.parametrize(
    ("status", "cadt_status"), [("active", "Held"), ("retired", "Retired"), ("cancelled", "Cancelled")]
)
def test_unit_status(status, cadt_status):
    assert cadt.unit_status(status) == cadt_status


@pytest.mark.parametrize(
    ("authorization_status", "declaration", "adjustment"),
    [
        ("mitigation_outcome", "Not Required", "Not Started"),
        ("authorized", "Committed", "Pending"),
        ("first_transferred", "Committed", "Completed"),
    ],
)
def test_corresponding_adjustment_follows_the_article_6_state(authorization_status, declaration, adjustment):
    assert cadt.corresponding_adjustment(authorization_status) == (declaration, adjustment)
    record = cadt.unit_record(
        cadt.UnitFacts(**{**UNIT.__dict__, "authorization_status": authorization_status})
    )
    assert record["correspondingAdjustmentDeclaration"] == declaration
    assert record["correspondingAdjustmentStatus"] == adjustment


def test_unknown_states_are_refused_not_guessed():
    with pytest.raises(ValueError):
        cadt.unit_status("immobilised")
    with pytest.raises(ValueError):
        cadt.corresponding_adjustment("used")


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("VN", "Viet Nam"),
        ("jp", "Japan"),
        ("LA", "Lao People's Democratic Republic"),
        ("XK", "XK"),
        (None, None),
    ],
)
def test_country_names_are_cadts_spelling_or_the_code(code, name):
    assert cadt.country_name(code) == name


@pytest.mark.parametrize(
    ("scopes", "sector"),
    [
        ((1,), "Energy (renewable/non-renewable)"),
        ((3,), "Energy demand"),
        ((2, 1), "Energy distribution"),
        ((), None),
    ],
)
def test_sector_is_the_first_cdm_sectoral_scope(scopes, sector):
    assert cadt.sector(scopes) == sector


def test_a_location_without_coordinates_is_identified_by_the_site_reference():
    record = cadt.location_record(cadt.LocationFacts("P", "CPA-0002", "VN"))
    assert record == {
        "id": "P/CPA-0002",
        "country": "Viet Nam",
        "inCountryRegion": "",
        "geographicIdentifier": "CPA-0002",
    }


def test_verification_of_every_site_is_said_so():
    facts = cadt.IssuanceFacts("ISS-00002", date(2025, 1, 1), date(2025, 6, 30))
    assert cadt.issuance_record(facts)["verificationApproach"] == "Verification of every site in the request"


def test_flat_rows_follow_the_column_order():
    assert cadt.flat_rows([{"b": 2, "a": 1, "c": [1]}], ("a", "b")) == [[1, 2]]
