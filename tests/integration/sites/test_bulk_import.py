"""Bulk upload of sites: a file with any error imports nothing; a clean file creates every site."""

import csv
import hashlib
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit.models import AuditChainHead, AuditEntry
from poa_manager.errors import NotAllowed
from poa_manager.programmes.rules import InclusionRoute
from poa_manager.sites import importer, services
from poa_manager.sites.models import MeterRole, Site, SiteStatus
from poa_manager.sites.services import bulk
from tests.factories import OrganisationFactory

TODAY = date(2026, 11, 1)
SITES = 500
GRID = 25  # sites per row of the grid
SPACING = Decimal("0.002")  # degrees: about 220 m, well beyond the 100 m the guard flags


def site_row(n: int, operator: str = "") -> dict[str, str]:
    """A row meeting every criterion of the `registered` programme, on a grid inside its boundary."""
    return {
        "reference": f"BULK-{n:04d}",
        "name": f"Factory rooftop {n}",
        "operator": operator,
        "latitude": str(Decimal("10.6") + n // GRID * SPACING),
        "longitude": str(Decimal("106.6") + n % GRID * SPACING),
        "area_code": "VN-57",
        "technology": "solar_pv",
        "capacity_kw": "850",
        "commissioned_on": "2025-03-01",
        "equipment_serials": f"INV-{n:05d};INV-{n:05d}-B",
        "documents": "cpa_dd",
        "financial_support_declared": "no",
        "meter_1_serial": f"MTR-{n:05d}",
        "meter_1_role": "generation",
        "meter_1_accuracy_class": "0.5S",
        "meter_1_calibrated_on": "2025-02-01",
        "meter_1_calibration_valid_until": "2030-02-01",
    }


def csv_file(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=importer.TEMPLATE_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def count(model, *where) -> int:
    return sa.select(sa.func.count()).select_from(model).where(*where)


def snapshot(db, programme) -> tuple[int, int, int]:
    """What an import could write: the programme's sites, audit entries, and the chain head."""
    return (
        db.session.scalar(count(Site, Site.programme_id == programme.id)),
        db.session.scalar(count(AuditEntry)),
        db.session.get(AuditChainHead, 1).last_seq,
    )


@pytest.fixture
def operators(db):
    return (
        OrganisationFactory(name="Saigon Rooftop Operations", kind=OrganisationKind.site_operator),
        OrganisationFactory(name="Closed Operator Ltd", kind=OrganisationKind.site_operator, is_active=False),
    )


def good_rows(operator: str) -> list[dict[str, str]]:
    """The acceptance file once fixed: every other site names an operator."""
    return [site_row(n, operator=operator if n % 2 else "") for n in range(SITES)]


def test_a_500_site_file_with_20_faulty_rows_is_rejected_whole_and_imports_as_drafts_once_fixed(
    world, registered, db, operators
):
    active, inactive = operators
    existing = db.session.scalar(sa.select(Site.reference).where(Site.programme_id == registered.id))
    good = good_rows(active.name)
    # n: (changes to site n, the column and code reported on its row: n + 2, as the header is row 1)
    faults = {
        3: ({"latitude": "95.5"}, "latitude", "out_of_range"),
        17: ({"capacity_kw": "1,5"}, "capacity_kw", "decimal_comma"),
        25: ({"commissioned_on": "01/03/2025"}, "commissioned_on", "not_a_date"),
        33: ({"capacity_kw": "-850"}, "capacity_kw", "out_of_range"),
        40: ({"meter_1_serial": "mtr-00041"}, "meter_1_serial", "duplicate_meter_serial_in_file"),
        41: ({}, "meter_1_serial", "duplicate_meter_serial_in_file"),  # the other row with that meter
        60: (
            {"equipment_serials": "INV-00060;INV-00061"},
            "equipment_serials",
            "duplicate_equipment_serial_in_file",
        ),
        61: ({}, "equipment_serials", "duplicate_equipment_serial_in_file"),
        80: ({"reference": "BULK-0079"}, "reference", "duplicate_reference_in_file"),
        100: ({"reference": existing}, "reference", "duplicate_reference"),  # already in the programme
        120: ({"operator": "Nobody Energy Ltd"}, "operator", "unknown_operator"),
        130: ({"operator": inactive.name}, "operator", "inactive_operator"),
        150: ({"name": ""}, "name", "required"),
        170: ({"meter_1_role": "exported"}, "meter_1_role", "invalid_choice"),
        200: ({"meter_1_calibrated_on": "2025-02-30"}, "meter_1_calibrated_on", "not_a_date"),
        230: ({"financial_support_declared": "maybe"}, "financial_support_declared", "not_yes_no"),
        260: ({"meter_2_accuracy_class": "0.2S"}, "meter_2_serial", "meter_serial_missing"),
        300: ({"latitude": "10.6240001"}, "latitude", "too_many_decimals"),
        350: (
            {"meter_1_calibration_valid_until": "2024-12-31"},
            "meter_1_calibration_valid_until",
            "calibration_order",
        ),
        499: ({"longitude": ""}, "longitude", "coordinates_incomplete"),
    }
    assert len(faults) == 20
    faulty = [row | faults[n][0] if n in faults else row for n, row in enumerate(good)]
    before = snapshot(db, registered)

    with pytest.raises(bulk.ImportRejected) as rejected:
        bulk.import_sites(registered, actor=world.coordinator, filename="sites.csv", data=csv_file(faulty))

    expected = [(n + 2, column, code) for n, (_, column, code) in sorted(faults.items())]
    assert [(e.row, e.column, e.code) for e in rejected.value.row_errors] == expected
    assert (rejected.value.code, rejected.value.status_code) == ("import_rejected", 409)
    assert rejected.value.errors["rows"] == [e.as_dict() for e in rejected.value.row_errors]
    assert "20 error(s) in 20 row(s)" in rejected.value.message
    assert len(bulk.error_report_csv(rejected.value.row_errors).splitlines()) == 1 + 20
    assert snapshot(db, registered) == before  # no site, no audit entry, the chain head untouched

    fixed = csv_file(good)
    result = bulk.import_sites(registered, actor=world.coordinator, filename="sites.csv", data=fixed)

    assert [site.reference for site in result.sites] == [row["reference"] for row in good]
    assert {site.status for site in result.sites} == {SiteStatus.draft} and result.checked == {}
    assert result.sites[1].operator_organisation_id == active.id and result.sites[0].operator is None
    assert result.sites[7].meters[0].serial == "MTR-00007"
    assert result.sites[7].equipment_serials == ["INV-00007", "INV-00007-B"]
    sites, entries, _ = snapshot(db, registered)
    assert (sites, entries) == (before[0] + SITES, before[1] + SITES + 1)  # one per site, one for the file
    [imported] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "sites.imported"))
    assert (imported.entity_type, imported.entity_id) == ("programme", str(registered.id))
    assert imported.data["sha256"] == hashlib.sha256(fixed).hexdigest()
    assert (imported.data["rows"], imported.data["filename"]) == (SITES, "sites.csv")


def test_500_imported_sites_checked_on_import_are_all_eligible_and_included_in_one_batch(
    world, registered, db, operators
):
    active, _ = operators
    result = bulk.import_sites(
        registered,
        actor=world.coordinator,
        filename="sites.csv",
        data=csv_file(good_rows(active.name)),
        check_on=TODAY,
    )

    assert result.checked == {"eligible": SITES, "not_eligible": 0, "needs_review": 0}
    assert {site.status for site in result.sites} == {SiteStatus.eligible}
    actions = db.session.execute(
        sa.select(AuditEntry.action, sa.func.count())
        .group_by(AuditEntry.action)
        .where(AuditEntry.action.in_(["site.created", "site.eligibility_checked", "sites.imported"]))
    )
    assert dict(actions.all()) == {
        "site.created": SITES,
        "site.eligibility_checked": SITES,
        "sites.imported": 1,
    }

    registered.current_version.inclusion_route = InclusionRoute.coordinator
    included = services.include_sites(
        registered,
        actor=world.coordinator,
        site_ids=[site.id for site in result.sites],
        included_on=date(2026, 11, 2),
    )
    assert len(included) == SITES
    assert {site.status for site in included} == {SiteStatus.included}


def test_an_xlsx_upload_creates_draft_sites_with_exact_decimals_and_typed_cells(
    world, registered, db, operators
):
    active, _ = operators
    workbook = openpyxl.load_workbook(io.BytesIO(importer.template_xlsx()))
    sheet = workbook["Sites"]
    sheet.delete_rows(2)  # the example
    for n in range(3):
        values = site_row(n, operator=active.name.upper())
        typed = values | {
            "latitude": float(values["latitude"]),  # as a spreadsheet holds numbers
            "capacity_kw": 850.125,
            "commissioned_on": date(2025, 3, 1),
            "meter_1_role": "Export" if n == 2 else "generation",
        }
        sheet.append([typed.get(name) for name in importer.TEMPLATE_COLUMNS])
    out = io.BytesIO()
    workbook.save(out)

    result = bulk.import_sites(
        registered, actor=world.coordinator, filename="C:\\Users\\me\\Sites.XLSX", data=out.getvalue()
    )

    assert [site.reference for site in result.sites] == ["BULK-0000", "BULK-0001", "BULK-0002"]
    assert {site.status for site in result.sites} == {SiteStatus.draft}
    db.session.expire_all()  # read back what the database holds
    site = db.session.get(Site, result.sites[1].id)
    assert (site.latitude, site.longitude) == (Decimal("10.6"), Decimal("106.602"))
    assert site.capacity_kw == Decimal("850.125") and site.commissioned_on == date(2025, 3, 1)
    assert site.operator_organisation_id == active.id  # the name matched whatever its case
    assert db.session.get(Site, result.sites[2].id).meters[0].role is MeterRole.export
    [imported] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "sites.imported"))
    assert imported.data["filename"] == "Sites.XLSX" and "checked" not in imported.data


def test_a_file_whose_only_error_is_a_reference_already_in_the_programme_writes_nothing(
    world, registered, db, make_site
):
    make_site(registered, 1)  # CPA-9001
    before = snapshot(db, registered)
    data = csv_file([site_row(1) | {"reference": "cpa-9001"}, site_row(2)])

    with pytest.raises(bulk.ImportRejected) as rejected:
        bulk.import_sites(
            registered, actor=world.coordinator, filename="sites.csv", data=data, check_on=TODAY
        )

    [error] = rejected.value.row_errors
    assert (error.row, error.column, error.code, error.value) == (
        2,
        "reference",
        "duplicate_reference",
        "cpa-9001",
    )
    assert snapshot(db, registered) == before
    # The refused row left nothing behind in the session either: later work flushes cleanly.
    make_site(registered, 3)


def test_a_file_that_cannot_be_read_is_rejected_before_any_row(world, registered, db):
    before = snapshot(db, registered)
    for filename, data, code in [
        ("sites.ods", b"whatever", "unsupported_file_type"),
        ("sites", b"reference,name\nA,B\n", "unsupported_file_type"),
        ("sites.csv", b"", "empty_file"),
        ("sites.xlsx", b"reference,name\nA,B\n", "not_xlsx"),
    ]:
        with pytest.raises(bulk.ImportRejected) as rejected:
            bulk.import_sites(registered, actor=world.coordinator, filename=filename, data=data)
        assert [(e.row, e.code) for e in rejected.value.row_errors] == [(importer.FILE, code)]
    assert snapshot(db, registered) == before


@pytest.mark.parametrize(
    "role", ["viewer", "verifier", "site_operator", "registry_administrator", "outsider"]
)
def test_only_the_coordinator_imports_sites(world, registered, db, role):
    before = snapshot(db, registered)
    with pytest.raises(NotAllowed):  # before the file is even read
        bulk.import_sites(registered, actor=world.by_role(role), filename="sites.csv", data=b"\xff")
    assert snapshot(db, registered) == before
