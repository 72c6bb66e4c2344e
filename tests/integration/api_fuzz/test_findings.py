"""Regression tests for what the schemathesis run found (docs/api.md, "Fuzzing")."""

import sqlalchemy as sa

from poa_manager.sites.models import Site


def test_an_id_too_large_for_the_database_is_a_422_not_a_500(client, world, api_headers_for):
    response = client.get(f"/api/v1/sites/{10**20}", headers=api_headers_for(world.admin))
    assert response.status_code == 422, response.data
    assert response.json["error"] == "out_of_range"


def test_a_page_past_the_database_limit_is_a_422(client, world, api_headers_for):
    response = client.get(f"/api/v1/programmes?page={10**20}", headers=api_headers_for(world.admin))
    assert response.status_code == 422, response.data
    assert response.json["error"] == "out_of_range"


def test_an_aef_report_for_a_party_that_is_not_two_letters_is_refused(client, world, api_headers_for):
    response = client.post(
        "/api/v1/aef-reports", json={"party": "ÓF", "year": 2025}, headers=api_headers_for(world.admin)
    )
    assert response.status_code == 422, response.data
    assert "party" in response.json["errors"]["json"]


def test_the_documented_error_body_has_the_error_code_and_decimals_have_numeric_ranges(client):
    document = client.get("/api/docs/openapi.json").json
    schemas = document["components"]["schemas"]
    assert "error" in schemas["ApiError"]["properties"]
    capacity = schemas["Site"]["properties"]["capacity_kw"]
    assert capacity["anyOf"][1] == {"type": "number", "minimum": 0.0, "maximum": 999999999.999}
    assert set(schemas["Targets"]["properties"]["targets"]["properties"]) >= {"report", "total"}


def test_a_site_with_an_unknown_operator_is_refused_before_it_joins_its_programme(
    client, db, world, registered, api_headers_for
):
    # The new site was linked to its programme before its facts were checked, so the operator
    # lookup flushed a site that was not in the session (an SAWarning, an error under the suite's
    # filterwarnings, a 500).
    response = client.post(
        f"/api/v1/programmes/{registered.id}/sites",
        json={"reference": "CPA-FUZZ", "name": "Fuzzed", "operator_organisation_id": -1599},
        headers=api_headers_for(world.coordinator),
    )
    assert response.status_code == 422, response.data
    assert response.json["errors"] == {"operator_organisation_id": ["Choose an active organisation."]}
    assert db.session.scalar(sa.select(sa.func.count()).where(Site.reference == "CPA-FUZZ")) == 0


def test_a_capacity_beyond_what_the_database_holds_is_refused_with_its_range(
    client, world, registered, api_headers_for
):
    # The documented maximum is the column's (Numeric(12, 3)): a client knows the limit beforehand.
    response = client.post(
        f"/api/v1/programmes/{registered.id}/sites",
        json={"reference": "CPA-HUGE", "name": "Huge", "capacity_kw": "1000000000"},
        headers=api_headers_for(world.coordinator),
    )
    assert response.status_code == 422, response.data
    assert response.json["errors"]["json"]["capacity_kw"] == [
        "Must be greater than or equal to 0 and less than or equal to 999999999.999."
    ]
