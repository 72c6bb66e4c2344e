"""The verification REST API end to end, and what a verifier may see through it."""

import csv
import hashlib
import io
from decimal import Decimal

import openpyxl

from poa_manager.database import db
from tests.integration.verification.test_services import assign
from tests.verification_support import claims_of

V = "/api/v1"


def test_a_verification_through_the_api(world, verifiers, make_request, api_headers_for):
    request = make_request(claims_of(40))
    coordinator, auditor = api_headers_for(world.coordinator), api_headers_for(verifiers.auditor)
    reviewer = api_headers_for(verifiers.reviewer)
    team = {"organisation_id": verifiers.auditor.organisation_id, "team_user_ids": [verifiers.validator.id]}
    refused = _post(world, f"{V}/issuance-requests/{request.id}/verification", team, coordinator, 409)
    assert refused["error"] == "impartiality"
    team["team_user_ids"] = [verifiers.auditor.id]
    created = _post(world, f"{V}/issuance-requests/{request.id}/verification", team, coordinator, 201)
    vid = created["id"]
    assert created["status"] == "assigned" and created["confidence"] == "0.900"

    plan = {"confidence": "0.90", "relative_precision": "0.10", "expected_cv": "0.5"}
    preview = _post(world, f"{V}/verifications/{vid}/sample-size", plan, auditor, 200)
    assert preview["population"] == 40 and preview["n"] == preview["total"]
    assert preview["formula"].startswith("n = N·z²·V²")
    drawn = _post(world, f"{V}/verifications/{vid}/draw", {**plan, "seed": 2**63 - 1}, auditor, 200)
    assert drawn["status"] == "sampling" and drawn["seed"] == str(2**63 - 1)

    client = world_client(world)
    sample = client.get(
        f"{V}/verifications/{vid}/frame?sampled=true&page_size=100", headers=auditor
    ).get_json()
    assert len(sample) == drawn["sample_size"] and all(e["sampled"] for e in sample)
    for i, entry in enumerate(sample):
        verified = Decimal(entry["claimed_tco2e"]) - (Decimal(10) if i == 0 else 0)
        response = client.put(
            f"{V}/verifications/{vid}/findings/{entry['site_id']}",
            json={
                "verified_tco2e": str(verified),
                "outcome": "error" if i == 0 else "conforming",
                "method": "remote",
                "evidence": "Invoices.",
            },
            headers=auditor,
        )
        assert response.status_code == 200, response.get_json()
    results = client.get(f"{V}/verifications/{vid}/results", headers=auditor).get_json()
    assert results["errors"] == 1 and results["missing"] == [] and results["draw_reproduces"] is True
    assert Decimal(results["verified_tco2e"]) < Decimal(results["claimed_tco2e"])

    statement = {"opinion": "positive", "summary": "One metering error, corrected across the request."}
    _post(world, f"{V}/verifications/{vid}/statement", statement, auditor, 200)
    assert (
        _post(world, f"{V}/verifications/{vid}/statement/approve", {}, auditor, 409)["error"] == "four_eyes"
    )
    issued = _post(world, f"{V}/verifications/{vid}/statement/approve", {}, reviewer, 200)
    assert issued["status"] == "completed" and issued["verified_tco2e"] == results["verified_tco2e"]
    assert issued["credits_verified"] == results["credits_verified"]
    request_now = client.get(f"{V}/issuance-requests/{request.id}", headers=coordinator).get_json()
    assert request_now["status"] == "verified"

    exported = client.get(f"{V}/verifications/{vid}/sample.csv", headers=auditor)
    rows = list(csv.DictReader(io.StringIO(exported.data.decode())))
    assert len(rows) == 40 and sum(r["outcome"] == "error" for r in rows) == 1
    workbook = client.get(f"{V}/verifications/{vid}/sample.xlsx", headers=auditor)
    assert openpyxl.load_workbook(io.BytesIO(workbook.data)).sheetnames[0] == "Sample and findings"
    frame = client.get(f"{V}/verifications/{vid}/frame.csv", headers=auditor).data
    assert hashlib.sha256(frame).hexdigest() == issued["frame_sha256"]
    assert client.get(f"{V}/verifications/{vid}/frame.csv").status_code == 401


def world_client(world):
    from flask import current_app

    return current_app.test_client()


def _post(world, url, payload, headers, status):
    response = world_client(world).post(url, json=payload, headers=headers)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_bad_plan_input_gets_field_errors(world, verifiers, make_request, api_headers_for):
    request = make_request(claims_of(5))
    verification = assign(request, world, verifiers)
    db.session.commit()
    response = world_client(world).post(
        f"{V}/verifications/{verification.id}/sample-size",
        json={"confidence": "1.5", "relative_precision": "0.1"},
        headers=api_headers_for(verifiers.auditor),
    )
    assert response.status_code == 422 and "confidence" in str(response.get_json())


def test_a_verifier_sees_only_what_it_is_assigned(world, verifiers, make_request, api_headers_for):
    """T-visibility: programmes, sites and verifications outside the assignment stay invisible."""
    request = make_request(claims_of(3))
    client = world_client(world)
    auditor = api_headers_for(verifiers.auditor)
    programme, other = world.programme, world.other_programme
    other_site = other.sites[0]
    # Before the assignment the auditor sees nothing of the programme.
    assert client.get(f"{V}/programmes/{programme.id}", headers=auditor).status_code == 404
    verification = assign(request, world, verifiers)
    db.session.commit()
    assert client.get(f"{V}/programmes/{programme.id}", headers=auditor).status_code == 200
    listed = client.get(f"{V}/programmes", headers=auditor).get_json()
    assert [p["id"] for p in listed] == [programme.id]
    assert client.get(f"{V}/programmes/{other.id}", headers=auditor).status_code == 404
    assert client.get(f"{V}/sites/{other_site.id}", headers=auditor).status_code == 404
    assert client.get(f"{V}/sites/{request.lines[0].site_id}", headers=auditor).status_code == 200
    # Another verifier organisation sees neither the verification nor the programme.
    stranger = api_headers_for(verifiers.other_firm)
    assert client.get(f"{V}/verifications/{verification.id}", headers=stranger).status_code == 404
    assert client.get(f"{V}/verifications", headers=stranger).get_json() == []
    assert client.get(f"{V}/programmes/{programme.id}", headers=stranger).status_code == 404
    # The outsider coordinator of the other programme does not see it either.
    assert (
        client.get(
            f"{V}/verifications/{verification.id}", headers=api_headers_for(world.outsider)
        ).status_code
        == 404
    )
