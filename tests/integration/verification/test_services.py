"""Verification use cases against a real database: assignment and impartiality, the seeded draw, findings,
whole-population checks, the extrapolated correction, and the four-eyes statement (T12)."""

import math
from datetime import date
from decimal import Decimal

import pytest

from poa_manager.database import db
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.monitoring import services as monitoring_services
from poa_manager.monitoring.models import RequestStatus
from poa_manager.verification import impartiality, services
from poa_manager.verification.models import (
    Allocation,
    CheckMethod,
    FindingOutcome,
    Opinion,
    PopulationDecision,
    VerificationStatus,
)
from tests.verification_support import Z90, claims_of, correct_by_hand

PLAN_90_10 = services.PlanInput(confidence=Decimal("0.90"), relative_precision=Decimal("0.10"))


def assign(request, world, verifiers, **extra):
    return services.assign_verifier(
        request,
        actor=world.coordinator,
        organisation_id=verifiers.auditor.organisation_id,
        team_user_ids=[verifiers.auditor.id],
        **extra,
    )


def sampled(verification):
    return [e for e in db.session.scalars(services.frame_entries(verification, sampled_only=True))]


def conform_all(verification, actor, *, except_sites=()):
    for entry in sampled(verification):
        if entry.site_id not in except_sites and not entry.has_finding:
            services.record_finding(
                verification,
                actor=actor,
                site_id=entry.site_id,
                verified_tco2e=entry.claimed_tco2e,
                outcome=FindingOutcome.conforming,
                method=CheckMethod.remote,
                evidence="Readings and invoices agree.",
            )


# --- assignment and impartiality ------------------------------------------------------------------


def test_assignment_puts_the_request_under_verification_and_gives_the_team_read_access(
    world, verifiers, make_request
):
    request = make_request(claims_of(3))
    verification = assign(request, world, verifiers, due_on=date(2099, 1, 1))
    assert request.status is RequestStatus.under_verification
    assert verification.status is VerificationStatus.assigned
    assert verification.impartiality_rule is impartiality.ImpartialityRule.different_team
    # Programme default reliability: the world's programme is small scale, 90/10.
    assert (verification.confidence, verification.relative_precision) == (Decimal("0.90"), Decimal("0.10"))
    assert "verification_team" in {r.value for r in verifiers.auditor.roles_in(request.programme_id)}
    with pytest.raises(RuleViolation) as twice:
        assign(request, world, verifiers)
    assert twice.value.code == "request_not_submitted"


def test_the_person_who_validated_cannot_be_on_the_team_but_a_colleague_can(world, verifiers, make_request):
    request = make_request(claims_of(3))
    with pytest.raises(RuleViolation) as refused:
        services.assign_verifier(
            request,
            actor=world.coordinator,
            organisation_id=verifiers.validator.organisation_id,
            team_user_ids=[verifiers.validator.id, verifiers.auditor.id],
        )
    assert refused.value.code == "impartiality"
    assert verifiers.validator.email in refused.value.message
    assert "validated design version 1" in refused.value.message
    assert request.status is RequestStatus.submitted
    assert assign(request, world, verifiers).team[0].user_id == verifiers.auditor.id


def test_the_rule_is_configurable_per_mechanism(world, verifiers, make_request, monkeypatch):
    request = make_request(claims_of(3))
    mechanism = request.programme.mechanism
    monkeypatch.setitem(
        services.IMPARTIALITY_RULES, mechanism, impartiality.ImpartialityRule.different_organisation
    )
    with pytest.raises(RuleViolation, match="organisation already worked"):
        assign(request, world, verifiers)
    monkeypatch.setitem(services.IMPARTIALITY_RULES, mechanism, impartiality.ImpartialityRule.none)
    verification = services.assign_verifier(
        request,
        actor=world.coordinator,
        organisation_id=verifiers.validator.organisation_id,
        team_user_ids=[verifiers.validator.id],
    )
    assert verification.impartiality_rule is impartiality.ImpartialityRule.none


def test_parse_rules_reads_the_operator_setting():
    rules = impartiality.parse_rules("jcm=none, cdm_poa=different_organisation")
    assert rules["jcm"] is impartiality.ImpartialityRule.none
    assert rules["gold_standard"] is impartiality.ImpartialityRule.different_team
    with pytest.raises(ValueError, match="expected mechanism=rule"):
        impartiality.parse_rules("jcm=sometimes")


@pytest.mark.parametrize("who", ["site_operator", "verifier", "viewer", "outsider"])
def test_only_the_coordinator_or_registry_administrator_assigns(world, verifiers, make_request, who):
    request = make_request(claims_of(2))
    with pytest.raises(NotAllowed):
        services.assign_verifier(
            request,
            actor=world.by_role(who),
            organisation_id=verifiers.auditor.organisation_id,
            team_user_ids=[verifiers.auditor.id],
        )


def test_the_team_must_be_people_of_the_verifier_organisation(world, verifiers, make_request):
    request = make_request(claims_of(2))
    with pytest.raises(InvalidInput) as refused:
        services.assign_verifier(
            request,
            actor=world.registry_administrator,
            organisation_id=verifiers.auditor.organisation_id,
            team_user_ids=[verifiers.other_firm.id],
        )
    assert "team_user_ids" in refused.value.errors
    with pytest.raises(InvalidInput):
        services.assign_verifier(
            request,
            actor=world.registry_administrator,
            organisation_id=world.coordinator.organisation_id,  # not a verifier
            team_user_ids=[world.coordinator.id],
        )


def test_cancelling_returns_the_request_and_allows_a_new_assignment(world, verifiers, make_request):
    request = make_request(claims_of(2))
    verification = assign(request, world, verifiers)
    with pytest.raises(InvalidInput):
        services.cancel_verification(verification, actor=world.coordinator, reason=" ")
    services.cancel_verification(verification, actor=world.coordinator, reason="Verifier unavailable")
    assert request.status is RequestStatus.submitted
    again = services.assign_verifier(
        request,
        actor=world.coordinator,
        organisation_id=verifiers.other_firm.organisation_id,
        team_user_ids=[verifiers.other_firm.id],
    )
    assert again.id != verification.id


# --- the plan and the draw ----------------------------------------------------------------------


def test_the_sample_size_uses_the_finite_population_formula_and_shows_it(world, verifiers, make_request):
    verification = assign(make_request(claims_of(500)), world, verifiers)
    preview = services.preview_plan(verification, plan=PLAN_90_10)
    # domain.md §2.2: mean V = 0.5, N = 500, 90/10 → 59.7 → 60.
    assert (preview.population, preview.sample_size.n, preview.total) == (500, 60, 60)
    assert preview.as_dict()["formula"].startswith("n = N·z²·V² / ((N−1)·e² + z²·V²) = 500·")
    with_non_response = services.preview_plan(
        verification, plan=services.PlanInput(non_response=Decimal("0.1"))
    )
    assert with_non_response.sample_size.n == math.ceil(60 / 0.9)  # 67


def test_a_plan_with_missing_inputs_is_refused_per_field(world, verifiers, make_request):
    verification = assign(make_request(claims_of(5)), world, verifiers)
    with pytest.raises(InvalidInput) as refused:
        services.preview_plan(
            verification,
            plan=services.PlanInput(expected_cv=None, stratify_by="colour", non_response=Decimal("1")),
        )
    assert set(refused.value.errors) == {"expected_cv", "stratify_by", "non_response"}


def test_the_same_frame_and_seed_give_the_same_sample(world, verifiers, make_request):
    request = make_request(claims_of(200))
    verification = assign(request, world, verifiers)
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10, seed=20261122)
    first = [e.site_reference for e in sampled(verification)]
    assert len(first) == len(set(first)) == verification.sample_size
    assert services.reproduces(verification)
    # A redraw with the same seed (no findings yet) repeats it; another seed gives another sample.
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10, seed=20261122)
    assert [e.site_reference for e in sampled(verification)] == first
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10, seed=7)
    assert [e.site_reference for e in sampled(verification)] != first
    # The stored sample is pinned: these are the references seed 20261122 draws from CPA-0001..0200.
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10, seed=20261122)
    from poa_manager.verification import sampling

    frame = [f"CPA-{i:04d}" for i in range(1, 201)]
    assert first == sampling.draw_sample(
        frame, len(first), seed=sampling.stratum_seed(20261122, services.NOT_STRATIFIED)
    )


def test_no_redraw_once_a_finding_exists_and_only_the_team_draws(world, verifiers, make_request):
    verification = assign(make_request(claims_of(30)), world, verifiers)
    with pytest.raises(NotAllowed):
        services.draw(verification, actor=verifiers.reviewer, plan=PLAN_90_10)
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10)
    entry = sampled(verification)[0]
    services.record_finding(
        verification,
        actor=verifiers.auditor,
        site_id=entry.site_id,
        verified_tco2e=entry.claimed_tco2e,
        outcome=FindingOutcome.conforming,
        method=CheckMethod.site_visit,
        evidence="Visited.",
    )
    with pytest.raises(RuleViolation) as refused:
        services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10)
    assert refused.value.code == "findings_exist"


def test_stratified_draw_gives_every_stratum_its_allocation(world, verifiers, make_request):
    facts = [{"technology": t} for t in ["solar_pv"] * 60 + ["wind"] * 30 + ["biomass"] * 10]
    verification = assign(make_request(claims_of(100), facts=facts), world, verifiers)
    plan = services.PlanInput(stratify_by="technology", allocation=Allocation.proportional)
    services.draw(verification, actor=verifiers.auditor, plan=plan, seed=1)
    drawn = sampled(verification)
    per_stratum = {h: sum(1 for e in drawn if e.stratum == h) for h in ("solar_pv", "wind", "biomass")}
    assert per_stratum == {h: verification.strata[h]["n"] for h in per_stratum}
    assert sum(per_stratum.values()) == len({e.site_id for e in drawn})
    assert services.reproduces(verification)


def test_extending_continues_the_seeded_sequence(world, verifiers, make_request):
    verification = assign(make_request(claims_of(120)), world, verifiers)
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10, seed=99)
    before = [e.site_reference for e in sampled(verification)]
    added = services.extend_sample(verification, actor=verifiers.auditor, additional=5)
    after = [e.site_reference for e in sampled(verification)]
    assert after[: len(before)] == before and len(after) == len(before) + 5
    assert {e.draw_round for e in added} == {2}
    assert services.reproduces(verification)
    with pytest.raises(InvalidInput):
        services.extend_sample(verification, actor=verifiers.auditor, additional=1000)


# --- findings, whole-population checks, results ---------------------------------------------------


def test_a_finding_needs_evidence_and_a_consistent_outcome(world, verifiers, make_request):
    verification = assign(make_request(claims_of(20)), world, verifiers)
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10)
    entry = sampled(verification)[0]
    with pytest.raises(InvalidInput) as refused:
        services.record_finding(
            verification,
            actor=verifiers.auditor,
            site_id=entry.site_id,
            verified_tco2e=entry.claimed_tco2e - 1,
            outcome=FindingOutcome.conforming,
            method=CheckMethod.remote,
            evidence="",
        )
    assert set(refused.value.errors) == {"outcome", "evidence"}
    unsampled = (
        next(e for e in db.session.scalars(services.frame_entries(verification)) if not e.is_sampled)
        if verification.sample_size < 20
        else None
    )
    if unsampled is not None:
        with pytest.raises(RuleViolation):
            services.record_finding(
                verification,
                actor=verifiers.auditor,
                site_id=unsampled.site_id,
                verified_tco2e=Decimal(1),
                outcome=FindingOutcome.error,
                method=CheckMethod.remote,
                evidence="x",
            )


def test_a_claim_with_more_than_six_decimals_is_confirmed_as_it_stands(world, verifiers, make_request):
    # The roll-up keeps every digit of a claim (e.g. 194.82187968 tCO2e); a verifier confirming the
    # site must be able to record that very value as conforming, while a typed value stays at grams.
    claims = [Decimal("194.82187968") + i for i in range(12)]
    verification = assign(make_request(claims), world, verifiers)
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10)
    entry = sampled(verification)[0]
    assert entry.claimed_tco2e.as_tuple().exponent == -8
    finding = dict(actor=verifiers.auditor, site_id=entry.site_id, method=CheckMethod.remote, evidence="MR")
    recorded = services.record_finding(
        verification, verified_tco2e=entry.claimed_tco2e, outcome=FindingOutcome.conforming, **finding
    )
    assert recorded.verified_tco2e == entry.claimed_tco2e
    with pytest.raises(InvalidInput) as refused:
        services.record_finding(
            verification,
            verified_tco2e=entry.claimed_tco2e - Decimal("0.00000001"),
            outcome=FindingOutcome.error,
            **finding,
        )
    assert refused.value.errors == {"verified_tco2e": ["At most 6 decimal places (a gram)."]}


def test_whole_population_checks_flag_missing_documents_and_exclusions_reduce_the_total(
    world, verifiers, make_request
):
    facts = [{}] * 39 + [{"documents": []}]  # CPA-0040 lacks its CPA-DD (the design requires it)
    request = make_request(claims_of(40), facts=facts)
    verification = assign(request, world, verifiers)
    # Sample 35 of 40 with a fixed seed in which CPA-0040 stays out of the sample.
    plan = services.PlanInput(expected_cv=Decimal("2"))
    seed = next(s for s in range(100) if "CPA-0040" not in _draw_refs(verification, verifiers, plan, s))
    services.draw(verification, actor=verifiers.auditor, plan=plan, seed=seed)
    entry = services.get_entry(
        verification,
        next(
            e.site_id
            for e in db.session.scalars(services.frame_entries(verification))
            if e.site_reference == "CPA-0040"
        ),
    )
    assert entry.problems == ["Missing documents: cpa_dd."]
    conform_all(verification, verifiers.auditor)
    results = services.compute_results(verification)
    assert results.missing == ["Decide on the whole-population problems of 1 sites."]
    services.decide_population_problem(
        verification,
        actor=verifiers.auditor,
        site_id=entry.site_id,
        decision=PopulationDecision.excluded,
        note="No CPA-DD on file.",
    )
    results = services.compute_results(verification)
    assert results.ready and results.estimate.ratio == 1
    assert results.verified_tco2e == results.claimed_total - entry.claimed_tco2e


def _draw_refs(verification, verifiers, plan, seed):
    services.draw(verification, actor=verifiers.auditor, plan=plan, seed=seed)
    return {e.site_reference for e in sampled(verification)}


def test_the_acceptance_journey_1000_sites_stratified_90_10_three_errors(world, verifiers, make_request):
    """A verifier samples a 1,000-site request at 90/10 stratified by technology, finds 3 errors,
    and the corrected total matches a hand calculation with the combined ratio estimator."""
    technologies = ["solar_pv"] * 600 + ["wind"] * 300 + ["biomass"] * 100
    claims = claims_of(1000)
    request = make_request(claims, facts=[{"technology": t} for t in technologies])
    verification = assign(request, world, verifiers)
    plan = services.PlanInput(stratify_by="technology", allocation=Allocation.proportional)
    services.draw(verification, actor=verifiers.auditor, plan=plan, seed=2026)

    # Hand: n = N·z²·V²/((N−1)·e² + z²·V²) = 1000·1.6449²·0.25 / (999·0.01 + 1.6449²·0.25) = 63.4 → 64,
    # proportional 38.4/19.2/6.4 → 38/19/6 + 1 by largest remainder (tie .4/.4 to "biomass"): 38/19/7.
    exact_n = 1000 * Z90**2 * 0.25 / (999 * 0.01 + Z90**2 * 0.25)
    assert math.ceil(exact_n) == 64 == verification.sample_size
    assert {h: s["n"] for h, s in verification.strata.items()} == {"solar_pv": 38, "wind": 19, "biomass": 7}

    drawn = sampled(verification)
    errors = {
        drawn[0].site_id: Decimal("12.5"),
        drawn[20].site_id: Decimal("30"),
        drawn[-1].site_id: Decimal("100.5"),
    }
    for entry in drawn:
        cut = errors.get(entry.site_id)
        services.record_finding(
            verification,
            actor=verifiers.auditor,
            site_id=entry.site_id,
            verified_tco2e=entry.claimed_tco2e - (cut or 0),
            outcome=FindingOutcome.error if cut else FindingOutcome.conforming,
            method=CheckMethod.site_visit if cut else CheckMethod.remote,
            evidence="Meter photo and invoice." if cut else "Readings agree with invoices.",
        )
    results = services.compute_results(verification)
    assert results.errors == 3 and results.ready
    met = "yes" if results.estimate.meets_target else "no"
    print(f"T12: Sample meets 90/10: {met}; achieved precision {results.estimate.achieved_precision:.2%}")

    # Hand: the combined ratio estimator worked out in fractions (Cochran §6.11).
    sizes = {"solar_pv": 600, "wind": 300, "biomass": 100}
    claimed_total = sum(claims, Decimal(0))
    findings = [(e.stratum, e.claimed_tco2e, e.verified_tco2e) for e in drawn]
    hand = correct_by_hand(findings, sizes, claimed_total)
    assert results.estimate.achieved_precision == pytest.approx(hand.precision, rel=1e-9)
    assert results.claimed_total == claimed_total == request.claimed_tco2e
    assert results.verified_tco2e == hand.verified_tco2e
    assert results.credits_verified == hand.credits
    assert results.verified_tco2e < claimed_total  # the 3 errors are corrected across all 1,000 sites


def test_a_missed_precision_target_applies_the_lower_bound(world, verifiers, make_request):
    verification = assign(make_request(claims_of(10)), world, verifiers)
    services.draw(verification, actor=verifiers.auditor, plan=services.PlanInput(expected_cv=Decimal("0.2")))
    drawn = sampled(verification)
    for i, entry in enumerate(drawn):  # wildly scattered errors: precision far off target
        verified = entry.claimed_tco2e * (Decimal("0.2") if i % 2 else Decimal(1))
        services.record_finding(
            verification,
            actor=verifiers.auditor,
            site_id=entry.site_id,
            verified_tco2e=verified,
            outcome=FindingOutcome.conforming if verified == entry.claimed_tco2e else FindingOutcome.error,
            method=CheckMethod.remote,
            evidence="Checked.",
        )
    results = services.compute_results(verification)
    assert not results.estimate.meets_target
    assert results.estimate.conservative_ratio == results.estimate.lower < results.estimate.ratio
    assert results.verified_tco2e == results.claimed_total * results.estimate.lower


# --- the statement ------------------------------------------------------------------------------


def _ready(world, verifiers, make_request, n=12):
    request = make_request(claims_of(n))
    verification = assign(request, world, verifiers)
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10)
    conform_all(verification, verifiers.auditor)
    return request, verification


def test_four_eyes_the_recorder_cannot_approve_a_colleague_can(world, verifiers, make_request):
    request, verification = _ready(world, verifiers, make_request)
    with pytest.raises(InvalidInput):
        services.draft_statement(verification, actor=verifiers.auditor, opinion=Opinion.positive, summary=" ")
    with pytest.raises(NotAllowed):  # the reviewer is not on the team
        services.draft_statement(
            verification, actor=verifiers.reviewer, opinion=Opinion.positive, summary="x"
        )
    services.draft_statement(
        verification, actor=verifiers.auditor, opinion=Opinion.positive, summary="No material errors."
    )
    assert verification.status is VerificationStatus.statement_drafted
    with pytest.raises(RuleViolation) as refused:
        services.approve_statement(verification, actor=verifiers.auditor)
    assert refused.value.code == "four_eyes"
    with pytest.raises(RuleViolation) as conflicted:  # the validator is the other colleague: impartiality
        services.approve_statement(verification, actor=verifiers.validator)
    assert conflicted.value.code == "impartiality"
    with pytest.raises(NotAllowed):
        services.approve_statement(verification, actor=verifiers.other_firm)
    services.approve_statement(verification, actor=verifiers.reviewer)
    assert verification.status is VerificationStatus.completed
    assert request.status is RequestStatus.verified
    assert verification.verified_tco2e == request.claimed_tco2e
    assert verification.credits_verified == request.credits_requested


def test_a_negative_statement_returns_the_request_for_corrective_action(world, verifiers, make_request):
    request, verification = _ready(world, verifiers, make_request)
    services.draft_statement(
        verification,
        actor=verifiers.auditor,
        opinion=Opinion.negative,
        summary="Monitoring plan not followed.",
    )
    services.approve_statement(verification, actor=verifiers.reviewer)
    assert request.status is RequestStatus.returned and verification.credits_verified == 0
    report = request.report
    with pytest.raises(RuleViolation):
        monitoring_services.reopen_report(report, actor=world.coordinator, reason="Correct it")
    monitoring_services.withdraw_request(request, actor=world.coordinator, reason="Correcting the report")
    monitoring_services.reopen_report(report, actor=world.coordinator, reason="Correct it")
    assert request.status is RequestStatus.withdrawn


def test_a_returned_draft_goes_back_to_the_team(world, verifiers, make_request):
    _request, verification = _ready(world, verifiers, make_request)
    services.draft_statement(verification, actor=verifiers.auditor, opinion=Opinion.positive, summary="Fine.")
    services.return_draft(verification, actor=verifiers.reviewer, reason="Describe the site visits.")
    assert verification.status is VerificationStatus.sampling and verification.opinion is None


def test_a_one_person_organisation_approves_its_own_statement(world, make_request):
    from poa_manager.accounts.roles import OrganisationKind
    from tests.factories import OrganisationFactory, UserFactory

    solo = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
    request = make_request(claims_of(5))
    verification = services.assign_verifier(
        request, actor=world.coordinator, organisation_id=solo.organisation_id, team_user_ids=[solo.id]
    )
    services.draw(verification, actor=solo, plan=PLAN_90_10)
    conform_all(verification, solo)
    services.draft_statement(verification, actor=solo, opinion=Opinion.positive, summary="Fine.")
    services.approve_statement(verification, actor=solo)
    assert verification.results["single_person_organisation"] is True


def test_a_positive_statement_marks_its_sites_verified_for_the_gold_standard_route(
    world, verifiers, make_request
):
    facts = [{}] * 29 + [{"documents": []}]
    request = make_request(claims_of(30), facts=facts)
    verification = assign(request, world, verifiers)
    seed = next(s for s in range(100) if "CPA-0030" not in _draw_refs(verification, verifiers, PLAN_90_10, s))
    services.draw(verification, actor=verifiers.auditor, plan=PLAN_90_10, seed=seed)
    conform_all(verification, verifiers.auditor)
    excluded = next(e for e in db.session.scalars(services.frame_entries(verification)) if e.problems)
    services.decide_population_problem(
        verification,
        actor=verifiers.auditor,
        site_id=excluded.site_id,
        decision=PopulationDecision.excluded,
        note="No CPA-DD.",
    )
    services.draft_statement(verification, actor=verifiers.auditor, opinion=Opinion.positive, summary="Ok.")
    services.approve_statement(verification, actor=verifiers.reviewer)
    db.session.expire_all()
    sites = {line.site_reference: line.site for line in request.lines}
    assert sites["CPA-0001"].last_verified_on == date(2025, 6, 30)  # the period verified
    assert sites["CPA-0030"].last_verified_on is None  # excluded: it did not pass
