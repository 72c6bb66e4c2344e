"""Sites on maps and in map files: GeoJSON/KML round trips, hostile files, scoping, the CSP."""

import io
import json
import zipfile
from decimal import Decimal

import pytest
import sqlalchemy as sa

from poa_manager import create_app
from poa_manager.audit.models import AuditEntry
from poa_manager.sites.models import Site, SiteStatus
from poa_manager.verification import services as verification_services
from poa_manager.verification.models import CheckMethod, FindingOutcome
from tests.factories import SiteFactory
from tests.integration.maps.conftest import SITES


def facts(programme) -> list[tuple]:
    """Everything an import sets, per site, in reference order (ids and programme aside)."""
    sites = sorted(programme.sites, key=lambda site: site.reference)
    return [
        (
            s.reference,
            s.name,
            s.operator_organisation_id,
            s.latitude,
            s.longitude,
            s.area_code,
            s.technology,
            s.capacity_kw,
            s.commissioned_on,
            s.equipment_serials,
            s.documents,
            s.financial_support_declared,
            s.funding_sources,
            [
                (m.serial, m.role, m.accuracy_class, m.calibrated_on, m.calibration_valid_until)
                for m in s.meters
            ],
        )
        for s in sites
    ]


def written(db, programme) -> tuple[int, int]:
    count = sa.select(sa.func.count()).select_from
    return (
        db.session.scalar(count(Site).where(Site.programme_id == programme.id)),
        db.session.scalar(count(AuditEntry)),
    )


def kmz_of(kml: bytes, **extra: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", kml)
        for name, body in extra.items():
            archive.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize("extension", ["geojson", "kml"])
def test_an_api_export_imports_into_another_programme_as_the_same_sites(
    world, source, target, db, client, api_headers_for, extension
):
    headers = api_headers_for(world.coordinator)
    exported = client.get(f"/api/v1/programmes/{source.id}/sites.{extension}", headers=headers)
    assert exported.status_code == 200, exported.data
    assert exported.mimetype in ("application/geo+json", "application/vnd.google-earth.kml+xml")
    assert f'filename="{source.reference}-sites.{extension}"' in exported.headers["Content-Disposition"]
    body = exported.data
    if extension == "geojson":
        document = json.loads(body)
        assert len(document["features"]) == len(source.sites) == SITES + 1  # and the world's own site
    else:
        assert body.count(b"<Placemark>") == SITES + 1 and b"Bank &lt;loan&gt; &amp; co" in body

    imported = client.post(
        f"/api/v1/programmes/{target.id}/site-imports",
        headers=headers,
        data={"file": (io.BytesIO(body), f"export.{extension}")},
    )
    assert imported.status_code == 201, imported.json
    assert imported.json["imported"] == SITES + 1
    db.session.expire_all()
    assert facts(target) == facts(source)
    assert {site.status for site in target.sites} == {SiteStatus.draft}
    by_reference = {site.reference: site for site in target.sites}
    assert by_reference["BULK-0005"].latitude is None  # exported without a point, imported without one
    assert [m.serial for m in by_reference["BULK-0003"].meters] == ["MTR-00003", "MTR-EXTRA-3"]


def test_the_format_parameter_chooses_the_file(world, source, client, api_headers_for):
    answer = client.get(
        f"/api/v1/programmes/{source.id}/sites.geojson?format=kml", headers=api_headers_for(world.coordinator)
    )
    assert answer.status_code == 200 and answer.data.startswith(b"<?xml")


def test_a_kmz_of_the_page_export_uploads_through_the_import_page(world, source, target, db, login_as):
    client = login_as(world.coordinator)
    kml = client.get(f"/programmes/{source.id}/sites/export.kml")
    assert kml.status_code == 200 and kml.mimetype == "application/vnd.google-earth.kml+xml"
    page = client.get(f"/programmes/{target.id}/sites/import")
    assert b".kmz" in page.data
    done = client.post(
        f"/programmes/{target.id}/sites/import",
        data={"file": (io.BytesIO(kmz_of(kml.data, **{"files/icon.png": b"png"})), "sites.kmz")},
    )
    assert done.status_code == 302, done.data
    db.session.expire_all()
    assert facts(target) == facts(source)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&c;</name>
<ExtendedData><Data name="reference"><value>X-1</value></Data></ExtendedData></Placemark></Document></kml>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY s SYSTEM "file:///etc/passwd">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&s;</name></Placemark></kml>"""
ZIP_BOMB = kmz_of(b"<kml>" + b" " * (60 * 2**20) + b"</kml>")
OFF_THE_MAP = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"reference": "OK-1", "name": "Fine"},
                "geometry": {"type": "Point", "coordinates": [106.7, 10.8]},
            },
            {
                "type": "Feature",
                "properties": {"reference": "OFF-1", "name": "Lat and lon swapped"},
                "geometry": {"type": "Point", "coordinates": [10.8, 106.7]},
            },
            {"type": "Feature", "properties": {"reference": "NO-NAME"}, "geometry": None},
        ],
    }
).encode()


@pytest.mark.parametrize(
    "filename, body, expected",
    [
        ("bomb.kml", BILLION_LAUGHS, [(0, "unsafe_xml")]),
        ("xxe.kml", XXE, [(0, "unsafe_xml")]),
        ("xxe.kmz", kmz_of(XXE), [(0, "unsafe_xml")]),
        ("bomb.kmz", ZIP_BOMB, [(0, "archive_too_large")]),
        ("sites.geojson", OFF_THE_MAP, [(2, "latitude"), (3, "name")]),
    ],
)
def test_hostile_and_broken_files_write_nothing_by_api_or_page(
    world, source, db, client, api_headers_for, login_as, filename, body, expected
):
    headers, browser = api_headers_for(world.coordinator), login_as(world.coordinator)
    before = written(db, source)  # after the token and the login, which are audited too
    answer = client.post(
        f"/api/v1/programmes/{source.id}/site-imports",
        headers=headers,
        data={"file": (io.BytesIO(body), filename)},
    )
    assert answer.status_code == 409 and answer.json["error"] == "import_rejected"
    rows = answer.json["errors"]["rows"]
    if expected[0][0] == 0:
        assert [(e["row"], e["code"]) for e in rows] == expected
    else:
        assert [(e["row"], e["column"]) for e in rows] == expected
    page = browser.post(f"/programmes/{source.id}/sites/import", data={"file": (io.BytesIO(body), filename)})
    assert page.status_code == 422 and b"nothing was imported" in page.data
    assert b"aaaaaaaaaa" not in page.data and b"root:" not in page.data
    assert written(db, source) == before


def test_the_map_pages_and_data_show_only_what_each_person_may_see(world, source, login_as, client):
    coordinator = login_as(world.coordinator)
    page = coordinator.get(f"/programmes/{source.id}/sites/map?status=draft")
    assert page.status_code == 200
    assert f'data-map-sites="/programmes/{source.id}/sites/map.geojson?status=draft"'.encode() in page.data
    assert b'data-map-tiles=""' in page.data and b"vendor/leaflet/leaflet.js" in page.data
    assert b"<script>" not in page.data and b"style=" not in page.data
    assert (
        f"/programmes/{source.id}/sites/map".encode()
        in coordinator.get(f"/programmes/{source.id}/sites").data
    )

    everything = coordinator.get(f"/programmes/{source.id}/sites/map.geojson").json
    located = [f["properties"]["reference"] for f in everything["features"]]
    assert len(located) == SITES - 1 and everything["unlocated"] == 2  # BULK-0005 and the world's site
    first = everything["features"][0]
    assert set(first["properties"]) == {"reference", "name", "status", "capacity_kw", "url"}
    assert (
        first["properties"]["url"].startswith("/sites/") and first["properties"]["capacity_kw"] == "850.000"
    )
    none_included = coordinator.get(f"/programmes/{source.id}/sites/map.geojson?status=included").json
    assert none_included["features"] == []

    # A site operator sees their own site only, which has no coordinates: an empty map.
    operator = login_as(world.site_operator)
    own = operator.get(f"/programmes/{source.id}/sites/map.geojson").json
    assert own["features"] == [] and own["unlocated"] == 1
    assert b"BULK-" not in operator.get(f"/programmes/{source.id}/sites/export.geojson").data

    outsider = login_as(world.outsider)
    site = next(s for s in source.sites if s.latitude is not None)
    for url in (
        f"/programmes/{source.id}/sites/map",
        f"/programmes/{source.id}/sites/map.geojson",
        f"/programmes/{source.id}/boundary.geojson",
        f"/programmes/{source.id}/sites/export.kml",
        f"/sites/{site.id}/map.geojson",
    ):
        assert outsider.get(url).status_code == 404, url
    assert coordinator.get(f"/programmes/{world.other_programme.id}/sites/map.geojson").status_code == 404


def test_the_api_export_is_scoped_too(world, source, db, client, api_headers_for):
    outsider = api_headers_for(world.outsider)
    assert client.get(f"/api/v1/programmes/{source.id}/sites.geojson", headers=outsider).status_code == 404
    own = client.get(
        f"/api/v1/programmes/{source.id}/sites.geojson", headers=api_headers_for(world.site_operator)
    )
    own_site = db.session.get(Site, world.site_operator.memberships[0].site_id)
    assert [f["properties"]["reference"] for f in own.json["features"]] == [own_site.reference]


def test_the_site_page_has_a_small_map_and_the_boundary_comes_as_geojson(world, source, login_as):
    from tests.integration.sites.conftest import BOUNDARY

    client = login_as(world.coordinator)
    site = next(s for s in source.sites if s.reference == "BULK-0002")
    page = client.get(f"/sites/{site.id}")
    assert f'data-map-sites="/sites/{site.id}/map.geojson"'.encode() in page.data
    assert f'data-map-boundary="/programmes/{source.id}/boundary.geojson"'.encode() in page.data
    one = client.get(f"/sites/{site.id}/map.geojson").json
    assert [f["properties"]["reference"] for f in one["features"]] == ["BULK-0002"]
    assert one["features"][0]["geometry"]["coordinates"] == [float(site.longitude), float(site.latitude)]
    unlocated = next(s for s in source.sites if s.reference == "BULK-0005")
    assert b"data-map-sites" not in client.get(f"/sites/{unlocated.id}").data

    boundary = client.get(f"/programmes/{source.id}/boundary.geojson")
    assert boundary.mimetype == "application/geo+json"
    assert [f["geometry"] for f in boundary.json["features"]] == [BOUNDARY["geojson"]]


def test_a_boundary_of_area_codes_has_no_shape_but_names_them(world, login_as):
    world.programme.latest_version.boundary = {"codes": ["VN-57", "VN-43"]}
    answer = login_as(world.coordinator).get(f"/programmes/{world.programme.id}/boundary.geojson").json
    assert answer == {"type": "FeatureCollection", "features": [], "codes": ["VN-57", "VN-43"]}


def test_the_verifiers_sample_map_shows_the_frame_by_finding_state(world, verifiers, make_request, login_as):
    from tests.integration.verification.test_services import PLAN_90_10, assign, sampled
    from tests.verification_support import claims_of

    located = [
        {"latitude": Decimal("10.6") + Decimal(i) / 100, "longitude": Decimal("106.7")} for i in range(30)
    ]
    verification = assign(make_request(claims_of(30), facts=located), world, verifiers)
    verification_services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10, seed=5)
    drawn = sampled(verification)
    verification_services.record_finding(
        verification,
        actor=verifiers.auditor,
        site_id=drawn[0].site_id,
        verified_tco2e=drawn[0].claimed_tco2e,
        outcome=FindingOutcome.conforming,
        method=CheckMethod.remote,
        evidence="Readings agree.",
    )
    auditor = login_as(verifiers.auditor)
    page = auditor.get(f"/verifications/{verification.id}/sample")
    assert f'data-map-sites="/verifications/{verification.id}/sample/map.geojson"'.encode() in page.data
    assert b'data-map-colour-by="state"' in page.data
    answer = auditor.get(f"/verifications/{verification.id}/sample/map.geojson").json
    states = [f["properties"]["state"] for f in answer["features"]]
    assert len(states) == 30 and answer["unlocated"] == 0
    assert states.count("conforming") == 1
    assert states.count("to_do") == len(drawn) - 1
    assert states.count("not_sampled") == 30 - len(drawn)
    by_reference = {f["properties"]["reference"]: f["properties"] for f in answer["features"]}
    first = by_reference[drawn[0].site_reference]
    assert first["sampled"] == "yes"
    assert first["url"] == f"/verifications/{verification.id}/sample/{drawn[0].site_id}"
    assert (
        login_as(verifiers.other_firm).get(f"/verifications/{verification.id}/sample/map.geojson").status_code
        == 404
    )
    assert (
        login_as(world.outsider).get(f"/verifications/{verification.id}/sample/map.geojson").status_code
        == 404
    )


def test_the_csp_allows_the_tile_host_only_when_tiles_are_configured(client):
    default = client.get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in default and "tile" not in default
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI="sqlite://",
        MAP_TILE_URL="https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png",
        MAP_TILE_ATTRIBUTION="© OpenStreetMap contributors",
    )
    policy = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tile.openstreetmap.org;" in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    with pytest.raises(ValueError, match="POA_MAP_TILE_URL"):
        create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", MAP_TILE_URL="https://x.org; script-src *")


def test_the_map_takes_the_configured_tiles(app, world, source, login_as):
    app.config["MAP_TILE_URL"] = "https://tile.example.org/{z}/{x}/{y}.png"
    app.config["MAP_TILE_ATTRIBUTION"] = "© Example <maps>"
    try:
        page = login_as(world.coordinator).get(f"/programmes/{source.id}/sites/map")
    finally:
        app.config["MAP_TILE_URL"] = app.config["MAP_TILE_ATTRIBUTION"] = ""
    assert b'data-map-tiles="https://tile.example.org/{z}/{x}/{y}.png"' in page.data
    assert b'data-map-attribution="\xc2\xa9 Example &lt;maps&gt;"' in page.data


def test_a_located_site_of_another_programme_never_shows(world, source, login_as):
    SiteFactory(programme=world.other_programme, latitude=Decimal("10.7"), longitude=Decimal("106.7"))
    answer = login_as(world.coordinator).get(f"/programmes/{source.id}/sites/map.geojson").json
    assert all(f["properties"]["reference"].startswith("BULK-") for f in answer["features"])
