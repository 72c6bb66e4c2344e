"""The verification pages as each person uses them: assign, plan with its live calculation, draw, findings,
population decisions, results, statement, exports; and what stays invisible."""

import csv
import hashlib
import io

import openpyxl
import pytest

from poa_manager.accounts.roles import Role
from poa_manager.database import db
from poa_manager.errors import RuleViolation
from poa_manager.monitoring.models import RequestStatus
from poa_manager.programmes import services as programme_services
from poa_manager.verification import services
from poa_manager.verification.models import FindingOutcome, VerificationStatus
from tests.integration.verification.test_services import assign, conform_all, sampled
from tests.verification_support import claims_of


def test_the_coordinator_assigns_from_the_request_page(world, verifiers, make_request, login_as):
    request = make_request(claims_of(6))
    db.session.commit()
    client = login_as(world.coordinator)
    page = client.get(f"/issuance-requests/{request.id}")
    assert b"assign a verifier" in page.data
    form = client.get(f"/issuance-requests/{request.id}/verification")
    assert b"Impartiality" in form.data and b"validated design version 1" in form.data
    assert b"[U] configurable" in form.data  # the default rule is unconfirmed for this mechanism
    refused = client.post(
        f"/issuance-requests/{request.id}/verification",
        data={
            "organisation_id": verifiers.validator.organisation_id,
            "team_user_ids": [verifiers.validator.id],
        },
    )
    assert refused.status_code == 200 and b"Impartiality" in refused.data
    assert request.status is RequestStatus.submitted
    done = client.post(
        f"/issuance-requests/{request.id}/verification",
        data={
            "organisation_id": verifiers.auditor.organisation_id,
            "team_user_ids": [verifiers.auditor.id],
            "due_on": "2099-01-31",
        },
    )
    assert done.status_code == 302
    verification = services.verification_of(request, actor=world.coordinator)
    assert done.headers["Location"].endswith(f"/verifications/{verification.id}")
    assert client.get(f"/issuance-requests/{request.id}/verification").status_code == 302


def test_the_auditor_plans_draws_records_and_drafts_through_the_pages(
    world, verifiers, make_request, login_as
):
    facts = [{"technology": "wind" if i % 3 == 0 else "solar_pv"} for i in range(60)]
    request = make_request(claims_of(60), facts=facts)
    verification = assign(request, world, verifiers)
    db.session.commit()
    auditor = login_as(verifiers.auditor)
    assert f"VER-{verification.id:04d}".encode() in auditor.get("/verifications").data
    plan_page = auditor.get(f"/verifications/{verification.id}/plan")
    assert plan_page.status_code == 200 and b"data-plan-preview" in plan_page.data
    live = auditor.get(
        f"/verifications/{verification.id}/plan/preview.json",
        query_string={
            "confidence": "0.95",
            "relative_precision": "0.10",
            "expected_cv": "0.5",
            "stratify_by": "technology",
            "allocation": "neyman",
        },
    ).get_json()
    assert live["population"] == 60 and {s["key"] for s in live["strata"]} == {"solar_pv", "wind"}
    bad = auditor.get(f"/verifications/{verification.id}/plan/preview.json", query_string={"confidence": "x"})
    assert bad.status_code == 400 and "error" in bad.get_json()
    drawn = auditor.post(
        f"/verifications/{verification.id}/plan",
        data={
            "action": "draw",
            "parameter_kind": "mean",
            "confidence": "0.90",
            "relative_precision": "0.10",
            "expected_cv": "0.5",
            "non_response": "0",
            "stratify_by": "technology",
            "allocation": "proportional",
            "seed": "42",
        },
    )
    assert drawn.status_code == 302 and verification.seed == 42
    sample_page = auditor.get(f"/verifications/{verification.id}/sample")
    assert b"seed <code>42</code>" in sample_page.data
    first = sampled(verification)[0]
    refused = auditor.post(
        f"/verifications/{verification.id}/sample/{first.site_id}",
        data={"verified_tco2e": "-1", "outcome": "error", "method": "remote", "evidence": ""},
    )
    assert refused.status_code == 200 and first.outcome is None
    recorded = auditor.post(
        f"/verifications/{verification.id}/sample/{first.site_id}",
        data={
            "verified_tco2e": str(first.claimed_tco2e - 5),
            "outcome": "error",
            "method": "site_visit",
            "evidence": '=HYPERLINK("http://evil")',
        },
    )
    assert recorded.status_code == 302 and first.outcome is FindingOutcome.error
    conform_all(verification, verifiers.auditor)
    db.session.commit()
    detail = auditor.get(f"/verifications/{verification.id}")
    assert b'data-testid="verified-total"' in detail.data and b"Draft the statement" in detail.data

    exported = auditor.get(f"/verifications/{verification.id}/sample.csv")
    rows = list(csv.DictReader(io.StringIO(exported.data.decode())))
    assert len(rows) == 60 and sum(r["sampled"] == "yes" for r in rows) == len(sampled(verification))
    assert next(r for r in rows if r["outcome"] == "error")["evidence"].startswith("'=")  # formula-safe
    workbook = openpyxl.load_workbook(
        io.BytesIO(auditor.get(f"/verifications/{verification.id}/sample.xlsx").data)
    )
    assert workbook.sheetnames == ["Sample and findings", "Plan", "Results"]
    frame = auditor.get(f"/verifications/{verification.id}/frame.csv").data
    assert hashlib.sha256(frame).hexdigest() == verification.frame_sha256

    drafted = auditor.post(
        f"/verifications/{verification.id}/statement", data={"opinion": "positive", "summary": "One error."}
    )
    assert drafted.status_code == 302 and verification.status is VerificationStatus.statement_drafted
    assert b"Four eyes" in auditor.get(f"/verifications/{verification.id}").data
    reviewer = login_as(verifiers.reviewer)
    assert b"Approve and issue the statement" in reviewer.get(f"/verifications/{verification.id}").data
    reviewer.post(f"/verifications/{verification.id}/statement/approve")
    assert verification.status is VerificationStatus.completed
    printable = reviewer.get(f"/verifications/{verification.id}/statement/print")
    assert b"Verification statement" in printable.data and b"DRAFT" not in printable.data


def test_pages_stay_invisible_outside_the_assignment(world, verifiers, make_request, login_as):
    request = make_request(claims_of(3))
    verification = assign(request, world, verifiers)
    db.session.commit()
    auditor = login_as(verifiers.auditor)
    assert auditor.get(f"/programmes/{world.programme.id}").status_code == 200
    assert auditor.get(f"/programmes/{world.other_programme.id}").status_code == 404
    assert auditor.get(f"/sites/{world.other_programme.sites[0].id}").status_code == 404
    programmes = auditor.get("/programmes/").data
    assert world.programme.reference.encode() in programmes
    assert world.other_programme.reference.encode() not in programmes
    stranger = login_as(verifiers.other_firm)
    assert stranger.get(f"/verifications/{verification.id}").status_code == 404
    assert stranger.get(f"/verifications/{verification.id}/sample.csv").status_code == 404
    assert b"VER-" not in stranger.get("/verifications").data
    # Working on it is the team's: a colleague outside the team reads but cannot draw.
    reviewer = login_as(verifiers.reviewer)
    assert reviewer.get(f"/verifications/{verification.id}").status_code == 200
    refused = reviewer.post(
        f"/verifications/{verification.id}/plan",
        data={
            "action": "draw",
            "parameter_kind": "mean",
            "confidence": "0.9",
            "relative_precision": "0.1",
            "expected_cv": "0.5",
            "allocation": "proportional",
        },
    )
    assert refused.status_code == 403 and verification.seed is None


def test_population_problems_are_decided_on_the_sample_page(world, verifiers, make_request, login_as):
    facts = [{}] * 29 + [{"documents": []}]
    request = make_request(claims_of(30), facts=facts)
    verification = assign(request, world, verifiers)
    seed = 0
    while True:  # a draw that leaves CPA-0030 out of the sample
        services.draw(verification, actor=verifiers.auditor, plan=services.PlanInput(), seed=seed)
        if "CPA-0030" not in {e.site_reference for e in sampled(verification)}:
            break
        seed += 1
    db.session.commit()
    auditor = login_as(verifiers.auditor)
    page = auditor.get(f"/verifications/{verification.id}/sample")
    assert b"Missing documents: cpa_dd." in page.data
    entry = next(e for e in db.session.scalars(services.frame_entries(verification)) if e.problems)
    auditor.post(
        f"/verifications/{verification.id}/population/{entry.site_id}",
        data={"decision": "accepted", "note": "CPA-DD filed on paper; copy seen."},
    )
    assert entry.population_decision is not None and entry.population_note.startswith("CPA-DD")


def test_the_verification_team_role_is_never_granted_by_hand(world, login_as):
    with pytest.raises(RuleViolation) as refused:
        programme_services.grant_role(
            world.programme, actor=world.admin, user_id=world.verifier.id, role=Role.verification_team
        )
    assert refused.value.code == "assigned_role"


def test_withdrawing_a_returned_request_from_its_page(world, verifiers, make_request, login_as):
    request = make_request(claims_of(4))
    request.status = RequestStatus.returned
    db.session.commit()
    client = login_as(world.coordinator)
    assert b"Withdraw this request" in client.get(f"/issuance-requests/{request.id}").data
    client.post(f"/issuance-requests/{request.id}/withdraw", data={"reason": ""})
    assert request.status is RequestStatus.returned
    client.post(f"/issuance-requests/{request.id}/withdraw", data={"reason": "Correcting meter data"})
    assert request.status is RequestStatus.withdrawn and request.withdrawn_reason == "Correcting meter data"
