"""The CADT export of real registry data: projects, locations, issuances and units, their statuses
and corresponding-adjustment states, scoped to the programmes the user may see."""

import csv
import io
import json
from datetime import date

import pytest

from poa_manager.database import db
from poa_manager.errors import NotFound
from poa_manager.interop import cadt, services
from poa_manager.registry import services as registry_services
from poa_manager.registry.models import AccountKind, FirstTransferDefinition, TransactionKind
from tests.factories import UserFactory

LINKS = services.Links(
    project=lambda programme: f"https://registry.example/programmes/{programme.id}",
    unit=lambda serial: f"https://registry.example/registry/serials?q={serial}",
)


def export(actor, programme_id=None):
    return services.cadt_export(actor, registry="POAM", links=LINKS, programme_id=programme_id)


def units_by_range(records):
    return {(int(u["unitBlockStart"]), int(u["unitBlockEnd"])): u for u in records}


def test_the_issued_programme_exports_its_units_with_blocks_holders_and_statuses(world, registry, issued):
    result = export(world.coordinator, issued.programme_id)
    [project] = result["projects"]
    assert (
        project["originProjectId"] == issued.programme.reference and project["projectStatus"] == "Registered"
    )
    assert project["sector"] == "Energy (renewable/non-renewable)" and project["unitMetric"] == "tCO2e"
    assert project["methodology"].startswith("AMS-I.D: Grid connected renewable electricity generation")
    assert [i["id"] for i in project["issuances"]] == [issued.label]
    assert project["issuances"][0]["verificationBody"] is not None
    locations = {location["id"] for location in project["projectLocations"]}

    # The three issued blocks (sites CPA-0001..3, serials 1–101, 102–221, 222–361) were split by
    # the allocation table when forwarded (domain.md §4.4): each unit record is one block.
    units = units_by_range(result["units"])
    reference = issued.programme.reference
    assert {k: (u["projectLocationId"], u["unitOwner"]) for k, u in units.items()} == {
        (1, 101): (f"{reference}/CPA-0001", registry.participant.name),
        (102, 144): (f"{reference}/CPA-0002", registry.participant.name),
        (145, 180): (f"{reference}/CPA-0002", "Government of Viet Nam"),
        (181, 221): (f"{reference}/CPA-0002", "Government of Japan"),
        (222, 361): (f"{reference}/CPA-0003", "Government of Japan"),
    }
    per_site: dict[str, list[tuple[int, int]]] = {}
    for start, end in sorted(units):
        per_site.setdefault(units[(start, end)]["projectLocationId"], []).append((start, end))
    issued_blocks = {site: (ranges[0][0], ranges[-1][1]) for site, ranges in per_site.items()}
    assert sorted(issued_blocks.values()) == [(1, 101), (102, 221), (222, 361)]  # the 3 issued blocks
    assert sum(u["unitCount"] for u in units.values()) == issued.credits == 361
    for unit in units.values():
        assert unit["unitStatus"] == "Held" and unit["unitStatusReason"] is None
        assert unit["vintageYear"] == 2025 and unit["issuanceId"] == issued.label
        assert (unit["correspondingAdjustmentDeclaration"], unit["correspondingAdjustmentStatus"]) == (
            "Not Required",
            "Not Started",
        )
        assert unit["projectLocationId"] in locations
        assert unit["serialNumberBlock"].endswith(
            f"{int(unit['unitBlockStart']):09d}-{int(unit['unitBlockEnd']):09d}"
        )
        assert unit["unitRegistryLink"] == LINKS.unit(unit["serialNumberBlock"])
    assert units[(181, 221)]["countryJurisdictionOfOwner"] == "Japan"
    assert units[(145, 180)]["countryJurisdictionOfOwner"] == "Viet Nam"


def test_a_user_of_another_programme_does_not_see_it(world, registry, issued):
    result = export(world.outsider)
    assert issued.programme.reference not in {p["originProjectId"] for p in result["projects"]}
    assert all(
        not u["projectLocationId"].startswith(issued.programme.reference + "/") for u in result["units"]
    )
    with pytest.raises(NotFound):
        services.get_exportable_programme(issued.programme_id, actor=world.outsider)
    assert len(export(world.admin)["units"]) == 5  # platform administrators see every programme


def test_retired_units_and_article_6_states_are_exported(world, registry, issued):
    government = UserFactory(organisation=registry.host)
    authorization = registry_services.record_authorization(
        issued.programme,
        actor=government,
        reference="MONRE/LoA/2025-001",
        cooperative_approach="CA0001",
        purposes=["ndc"],
        first_transfer_definition=FirstTransferDefinition.first_international_transfer,
        quantity_tco2e=200,
        vintage_first=2025,
        vintage_last=2025,
        sector="Energy",
        activity_type="Solar PV",
        authorized_on=date(2025, 12, 1),
        using_parties=["jp"],
        using_entities=[],
    )
    authorized = registry_services.authorize_units(
        authorization, actor=government, quantity=120
    )  # serials 1–120
    block = next(b for b in authorized if b.account.organisation_id == registry.participant.id)
    japan = registry_services.account_of(registry.japan.id, AccountKind.holding)
    first = registry_services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.transfer, quantity=20, to_account_id=japan.id
    )
    registry_services.approve_transaction(first, actor=registry.trader_colleague)
    own = registry_services.account_of(registry.participant.id, AccountKind.holding)
    plain = next(b for b in db.session.scalars(registry_services.holdings(own)) if b.authorization_id is None)
    retirement = registry_services.initiate_transaction(
        plain,
        actor=registry.trader,
        kind=TransactionKind.retirement,
        quantity=3,
        beneficiary="Hanoi Metro",
        purpose="2025 voluntary claim",
        using_entity="Hanoi Metro JSC",
    )
    registry_services.approve_transaction(retirement, actor=registry.trader_colleague)

    result = export(world.coordinator, issued.programme_id)
    units = units_by_range(result["units"])
    moved, retired = first.block, retirement.block
    first_transferred = units[(moved.serial_start, moved.serial_end)]
    assert (
        first_transferred["correspondingAdjustmentDeclaration"],
        first_transferred["correspondingAdjustmentStatus"],
    ) == (
        "Committed",
        "Completed",
    )
    assert first_transferred["unitOwner"] == "Government of Japan"
    still_authorized = [u for u in units.values() if u["correspondingAdjustmentStatus"] == "Pending"]
    assert sum(u["unitCount"] for u in still_authorized) == 120 - 20
    assert {u["correspondingAdjustmentDeclaration"] for u in still_authorized} == {"Committed"}
    gone = units[(retired.serial_start, retired.serial_end)]
    assert gone["unitStatus"] == "Retired" and gone["unitCount"] == 3
    assert (
        gone["unitStatusReason"]
        == f"{retirement.label} for Hanoi Metro used by Hanoi Metro JSC — 2025 voluntary claim"
    )
    assert sum(u["unitCount"] for u in units.values()) == 361  # splitting never creates or loses units
    assert "MONRE/LoA/2025-001 v1 (CA0001)" in result["projects"][0]["ndcInformation"]


def test_csv_per_entity_uses_cadts_column_names(world, registry, issued):
    result = export(world.coordinator, issued.programme_id)
    for entity, columns in (
        ("projects", cadt.PROJECT_FIELDS),
        ("locations", ("originProjectId", *cadt.LOCATION_FIELDS)),
        ("issuances", ("originProjectId", *cadt.ISSUANCE_FIELDS)),
        ("units", cadt.UNIT_FIELDS),
    ):
        rows = list(csv.reader(io.StringIO(services.cadt_csv(result, entity).decode())))
        assert tuple(rows[0]) == columns
    units = list(csv.DictReader(io.StringIO(services.cadt_csv(result, "units").decode())))
    assert sorted(int(u["unitCount"]) for u in units) == [36, 41, 43, 101, 140]
    with pytest.raises(ValueError):
        services.cadt_csv(result, "ratings")


def test_the_pages_offer_downloads_only_for_visible_programmes(world, registry, issued, login_as):
    client = login_as(world.coordinator)
    page = client.get("/interop/cadt")
    assert page.status_code == 200 and f'data-testid="cadt-json-{issued.programme_id}"'.encode() in page.data
    download = client.get(f"/interop/cadt/export.json?programme={issued.programme_id}")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    body = json.loads(download.data)
    assert len(body["units"]) == 5 and body["projects"][0]["projectLink"].endswith(
        f"/programmes/{issued.programme_id}"
    )
    assert body["units"][0]["unitRegistryLink"].startswith("http://localhost/registry/serials?q=")
    units_csv = client.get(f"/interop/cadt/units.csv?programme={issued.programme_id}")
    assert units_csv.status_code == 200 and units_csv.mimetype == "text/csv"
    assert client.get("/interop/cadt/ratings.csv").status_code == 404

    outsider = login_as(world.outsider)
    assert f'data-testid="cadt-json-{issued.programme_id}"'.encode() not in outsider.get("/interop/cadt").data
    assert outsider.get(f"/interop/cadt/export.json?programme={issued.programme_id}").status_code == 404
    assert outsider.get(f"/interop/cadt/units.csv?programme={issued.programme_id}").status_code == 404
    everything = json.loads(outsider.get("/interop/cadt/export.json").data)
    assert all(p["originProjectId"] != issued.programme.reference for p in everything["projects"])


def test_the_api_serves_projects_and_units_of_visible_programmes(
    world, registry, issued, client, api_headers_for
):
    headers = api_headers_for(world.coordinator)
    projects = client.get("/api/v1/cadt/projects", headers=headers)
    assert projects.status_code == 200
    [project] = [p for p in projects.json if p["originProjectId"] == issued.programme.reference]
    assert project["issuances"][0]["id"] == issued.label and project["projectLocations"]
    units = client.get(f"/api/v1/cadt/units?programme_id={issued.programme_id}", headers=headers)
    assert units.status_code == 200 and len(units.json) == 5
    assert json.loads(units.headers["X-Pagination"])["total"] == 5
    page = client.get(f"/api/v1/cadt/units?programme_id={issued.programme_id}&page_size=2", headers=headers)
    assert len(page.json) == 2

    outsider = api_headers_for(world.outsider)
    assert (
        client.get(f"/api/v1/cadt/units?programme_id={issued.programme_id}", headers=outsider).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/cadt/projects?programme_id={issued.programme_id}", headers=outsider).status_code
        == 404
    )
    assert client.get("/api/v1/cadt/units", headers=outsider).json == []
    assert client.get("/api/v1/cadt/units").status_code == 401
