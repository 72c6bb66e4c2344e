"""Sites through the pages and the API, as coordinators, verifiers and site operators use them."""

import io
from datetime import date

from poa_manager.programmes.rules import InclusionRoute
from poa_manager.sites import services
from poa_manager.sites.models import Site, SiteStatus
from tests.integration.sites.conftest import CRITERIA


def _form(n: int, **overrides) -> dict:
    values = {
        "reference": f"CPA-8{n:03d}",
        "name": f"Warehouse rooftop {n}",
        "latitude": "10.95",
        "longitude": f"106.{n:02d}",
        "technology": "solar_pv",
        "capacity_kw": "640",
        "commissioned_on": "2025-05-01",
        "documents": "cpa_dd",
        "equipment_serials": f"INV-8{n:03d}",
        "financial_support_declared": "no",
        "attributes": "{}",
        "meters-0-serial": f"MTR-8{n:03d}",
        "meters-0-role": "export",
        "meters-0-accuracy_class": "0.5S",
        "meters-0-calibrated_on": "2025-04-01",
        "meters-0-calibration_valid_until": "2030-04-01",
    }
    return values | overrides


def test_coordinator_adds_checks_and_includes_a_site_through_the_pages(world, registered, login_as, db):
    registered.current_version.inclusion_route = InclusionRoute.coordinator
    client = login_as(world.coordinator)
    created = client.post(f"/programmes/{registered.id}/sites/new", data=_form(1))
    assert created.status_code == 302, created.data
    site = db.session.scalar(db.select(Site).filter_by(reference="CPA-8001"))
    assert [m.serial for m in site.meters] == ["MTR-8001"] and site.equipment_serials == ["INV-8001"]

    client.post(f"/sites/{site.id}/check")
    page = client.get(f"/sites/{site.id}").data.decode()
    assert "eligible" in page and page.count("result-passed") == len(CRITERIA)

    included = client.post(
        f"/programmes/{registered.id}/sites/include",
        data={"site_ids": [str(site.id)], "included_on": "2026-11-01", "from_site": "1"},
    )
    assert included.location == f"/sites/{site.id}"
    db.session.refresh(site)
    assert site.status is SiteStatus.included and site.included_on == date(2026, 11, 1)


def test_site_form_shows_field_errors(world, registered, login_as):
    client = login_as(world.coordinator)
    response = client.post(
        f"/programmes/{registered.id}/sites/new", data=_form(2, latitude="95", attributes="{not json")
    )
    assert response.status_code == 200
    assert b"Number must be between -90 and 90" in response.data and b"Not valid JSON" in response.data


def test_failed_report_lists_each_criterion_with_its_reason(world, registered, login_as, db):
    client = login_as(world.coordinator)
    client.post(f"/programmes/{registered.id}/sites/new", data=_form(3, capacity_kw="16000"))
    site = db.session.scalar(db.select(Site).filter_by(reference="CPA-8003"))
    client.post(f"/sites/{site.id}/check")
    page = client.get(f"/sites/{site.id}").data.decode()
    assert "not eligible" in page and "EC-03" in page and "15" in page


def test_criteria_editor_validates_parameters(world, login_as, db):
    client = login_as(world.coordinator)
    url = f"/programmes/{world.programme.id}/criteria"
    assert b"Eligibility criteria" in client.get(url).data
    bad = client.post(
        url,
        data={
            "criteria-0-code": "EC-01",
            "criteria-0-description": "Capacity",
            "criteria-0-kind": "capacity_range",
            "criteria-0-params": '{"max_kw": 12.5}',
        },
    )
    assert bad.status_code == 422 and b"not 12.5" in bad.data
    good = client.post(
        url,
        data={
            "criteria-0-code": "EC-01",
            "criteria-0-description": "Capacity",
            "criteria-0-kind": "capacity_range",
            "criteria-0-params": '{"max_kw": "12500"}',
        },
    )
    assert good.status_code == 302
    assert world.programme.latest_version.eligibility_criteria[0]["params"]["max_kw"] == "12500"


def test_site_operator_sees_their_site_and_not_the_others(world, registered, login_as, make_site):
    other = make_site(registered, 30)
    own = world.site_operator.memberships[0].site_id
    client = login_as(world.site_operator)
    assert client.get(f"/sites/{own}").status_code == 200
    assert client.get(f"/sites/{other.id}").status_code == 404
    listing = client.get(f"/programmes/{registered.id}/sites").data.decode()
    assert other.reference not in listing


def test_api_create_check_include_and_refuse(client, world, registered, api_headers_for):
    registered.current_version.inclusion_route = InclusionRoute.coordinator
    coordinator = api_headers_for(world.coordinator)
    created = client.post(
        f"/api/v1/programmes/{registered.id}/sites",
        headers=coordinator,
        json={
            "reference": "CPA-8100",
            "name": "Cold store",
            "latitude": "10.97",
            "longitude": "106.75",
            "technology": "solar_pv",
            "capacity_kw": "400.5",
            "commissioned_on": "2025-02-01",
            "documents": ["cpa_dd"],
            "meters": [
                {
                    "serial": "MTR-8100",
                    "accuracy_class": "0.2S",
                    "calibrated_on": "2025-01-01",
                    "calibration_valid_until": "2029-01-01",
                }
            ],
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["capacity_kw"] == "400.500" and created.json["status"] == "draft"
    site_id = created.json["id"]

    check = client.post(
        f"/api/v1/sites/{site_id}/eligibility-checks", headers=coordinator, json={"checked_on": "2026-11-01"}
    )
    assert check.status_code == 201 and check.json["outcome"] == "eligible"
    assert {r["code"] for r in check.json["results"]} == {c["code"] for c in CRITERIA}

    verifier = api_headers_for(world.verifier)
    assert (
        client.post(
            f"/api/v1/programmes/{registered.id}/inclusions",
            headers=verifier,
            json={"site_ids": [site_id], "included_on": "2026-11-01"},
        ).status_code
        == 403
    )
    included = client.post(
        f"/api/v1/programmes/{registered.id}/inclusions",
        headers=coordinator,
        json={"site_ids": [site_id], "included_on": "2026-11-01"},
    )
    assert included.status_code == 200 and included.json[0]["status"] == "included"

    again = client.post(f"/api/v1/sites/{site_id}/eligibility-checks", headers=coordinator, json={})
    assert again.status_code == 409 and again.json["error"] == "site_not_checkable"
    listing = client.get(f"/api/v1/programmes/{registered.id}/sites?status=included", headers=coordinator)
    assert [s["reference"] for s in listing.json] == ["CPA-8100"]


def test_api_refuses_floats_and_bad_input(client, world, registered, api_headers_for):
    response = client.post(
        f"/api/v1/programmes/{registered.id}/sites",
        headers=api_headers_for(world.coordinator),
        json={"reference": "X", "name": "X", "latitude": 91, "meters": [{"role": "solar"}]},
    )
    assert response.status_code == 422
    assert {"latitude", "meters"} <= set(response.json["errors"]["json"])


def test_registry_administrator_imports_external_registrations_that_the_guard_then_sees(
    client, world, registered, api_headers_for, make_site, login_as
):
    csv_text = (
        "registry,identifier,name,latitude,longitude,technology,meter_serials,equipment_serials\n"
        "Verra,VCS-4711,Old solar park,10.9,106.8,solar_pv,MTR-00040;MTR-X,\n"
    )
    headers = api_headers_for(world.registry_administrator)
    refused = client.post(
        "/api/v1/external-registrations",
        headers=api_headers_for(world.coordinator),
        data={"file": (io.BytesIO(csv_text.encode()), "verra.csv")},
    )
    assert refused.status_code == 403
    imported = client.post(
        "/api/v1/external-registrations",
        headers=headers,
        data={"file": (io.BytesIO(csv_text.encode()), "verra.csv")},
    )
    assert imported.status_code == 200 and imported.json == {"created": 1, "updated": 0}

    site = make_site(registered, 40)
    conflicts = services.find_conflicts(site, nearby_radius_m=100)
    assert [(c.kind.value, c.other_reference, c.other_registry) for c in conflicts] == [
        ("other_registry", "VCS-4711", "Verra")
    ]

    page = login_as(world.registry_administrator).get("/external-registrations")
    assert page.status_code == 200 and b"VCS-4711" in page.data
    assert login_as(world.coordinator).get("/external-registrations").status_code == 403


def test_site_import_through_the_api_is_all_or_nothing(client, world, registered, api_headers_for, db):
    from poa_manager.sites import importer

    header = ",".join(importer.TEMPLATE_COLUMNS)
    good = (
        "CPA-7001,Depot roof,,10.95,106.80,,solar_pv,500,2025-03-01,INV-7001,cpa_dd,no,,"
        "MTR-7001,export,0.5S,2025-02-01,2030-02-01" + "," * (len(importer.TEMPLATE_COLUMNS) - 18)
    )
    bad = good.replace("CPA-7001", "CPA-7002").replace("10.95", "95").replace("7001", "7002")
    url = f"/api/v1/programmes/{registered.id}/site-imports"
    headers = api_headers_for(world.coordinator)

    rejected = client.post(
        url,
        headers=headers,
        data={
            "file": (io.BytesIO(f"{header}\n{good}\n{bad}\n".encode()), "sites.csv"),
            "check_on": "2026-11-01",
        },
    )
    assert rejected.status_code == 409 and rejected.json["error"] == "import_rejected"
    assert [(e["row"], e["column"]) for e in rejected.json["errors"]["rows"]] == [(3, "latitude")]
    assert db.session.scalar(db.select(Site).filter_by(reference="CPA-7001")) is None

    accepted = client.post(
        url,
        headers=headers,
        data={"file": (io.BytesIO(f"{header}\n{good}\n".encode()), "sites.csv"), "check_on": "2026-11-01"},
    )
    assert accepted.status_code == 201, accepted.json
    assert accepted.json["imported"] == 1 and accepted.json["checked"]["eligible"] == 1
    assert (
        client.post(
            url,
            headers=api_headers_for(world.verifier),
            data={"file": (io.BytesIO(f"{header}\n".encode()), "sites.csv")},
        ).status_code
        == 403
    )


def test_templates_download_as_files(world, registered, login_as):
    client = login_as(world.coordinator)
    csv_file = client.get(f"/programmes/{registered.id}/sites/template.csv")
    assert csv_file.status_code == 200 and "attachment" in csv_file.headers["Content-Disposition"]
    assert csv_file.data.decode("utf-8-sig").startswith("reference,name")
    xlsx = client.get(f"/programmes/{registered.id}/sites/template.xlsx")
    assert xlsx.data[:2] == b"PK"
