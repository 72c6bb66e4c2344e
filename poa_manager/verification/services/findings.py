"""Findings of sampled sites, whole-population checks, and the results: the sample's error ratio
extrapolated to the whole request (VVS-PoA v2 paras 359–360, domain.md §2.4–2.5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.methodologies.base import exact
from poa_manager.monitoring import emission_reductions
from poa_manager.monitoring.services.reports import exact_sum
from poa_manager.verification import policies, sampling
from poa_manager.verification.models import (
    CheckMethod,
    FindingOutcome,
    FrameEntry,
    PopulationDecision,
    Verification,
)
from poa_manager.verification.services.plans import NOT_STRATIFIED, frame_by_stratum, get_entry


def record_finding(
    verification: Verification,
    *,
    actor: User,
    site_id: int,
    verified_tco2e: Decimal,
    outcome: FindingOutcome,
    method: CheckMethod,
    evidence: str,
    now: datetime | None = None,
) -> FrameEntry:
    """The verifier's finding for one sampled site: the verified quantity and the evidence for it."""
    lock(verification)  # a finding never lands on a statement drafted meanwhile
    if not policies.can_work_on(actor, verification):
        raise NotAllowed("Only the verification team can record findings of an open verification.")
    entry = get_entry(verification, site_id)
    if not entry.is_sampled:
        raise RuleViolation(f"{entry.site_reference} is not in the sample.", code="not_sampled")
    errors: dict[str, list[str]] = {}
    if verified_tco2e is None or not verified_tco2e.is_finite() or verified_tco2e < 0:
        errors["verified_tco2e"] = ["A quantity of zero or more tCO2e."]
    elif verified_tco2e != entry.claimed_tco2e and verified_tco2e.as_tuple().exponent < -6:  # type: ignore[operator]
        # A verifier types at most a gram's precision; the claim itself, confirmed as it stands,
        # keeps whatever precision the roll-up gave it (a conforming site carries its claim).
        errors["verified_tco2e"] = ["At most 6 decimal places (a gram)."]
    evidence = (evidence or "").strip()
    if not evidence:
        errors["evidence"] = ["Say what was checked: documents, readings, photos, the visit."]
    if (
        outcome is FindingOutcome.conforming
        and verified_tco2e is not None
        and verified_tco2e != entry.claimed_tco2e
    ):
        errors["outcome"] = [
            "A verified value that differs from the reported one is an error, not conforming."
        ]
    if errors:
        raise InvalidInput("The finding is incomplete.", errors=errors)
    before = _finding_of(entry)
    entry.verified_tco2e = verified_tco2e
    entry.outcome = outcome
    entry.method = method
    entry.evidence = evidence
    entry.recorded_by_id = actor.id
    entry.recorded_at = now or utcnow()
    db.session.flush()
    audit.record(
        "verification.finding_recorded",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        before=before if before["outcome"] else None,
        after=_finding_of(entry),
    )
    return entry


def _finding_of(entry: FrameEntry) -> dict[str, Any]:
    return {
        "site": entry.site_reference,
        "reported_tco2e": entry.claimed_tco2e,
        "verified_tco2e": entry.verified_tco2e,
        "outcome": entry.outcome,
        "method": entry.method,
        "evidence": entry.evidence,
    }


def decide_population_problem(
    verification: Verification, *, actor: User, site_id: int, decision: PopulationDecision, note: str
) -> FrameEntry:
    """Accept (with the explanation) or exclude a site whose whole-population check found a problem."""
    lock(verification)
    if not policies.can_work_on(actor, verification):
        raise NotAllowed("Only the verification team can decide on whole-population checks.")
    entry = get_entry(verification, site_id)
    if not entry.problems:
        raise RuleViolation(f"{entry.site_reference} passed its checks.", code="no_problem")
    if entry.is_sampled and decision is PopulationDecision.excluded:
        raise RuleViolation(
            f"{entry.site_reference} is in the sample: record its finding (verified 0 to exclude it).",
            code="sampled_site",
        )
    note = (note or "").strip()
    if not note:
        raise InvalidInput("Explain the decision.", errors={"note": ["A note is required."]})
    entry.population_decision, entry.population_note, entry.decided_by_id = decision, note, actor.id
    db.session.flush()
    audit.record(
        "verification.population_decided",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        after={"site": entry.site_reference, "decision": decision, "note": note, "problems": entry.problems},
    )
    return entry


@dataclass(frozen=True)
class Results:
    """What the findings say about the whole request, and what is still missing before a statement."""

    population: int
    sampled: int
    with_findings: int
    errors: int
    non_conformities: int
    claimed_total: Decimal
    excluded_total: Decimal  # claims of unsampled sites excluded by whole-population checks
    basis: Decimal  # claimed_total − excluded_total: what the ratio corrects
    estimate: sampling.RatioEstimate | None
    verified_tco2e: Decimal | None
    credits_verified: int | None
    missing: list[str]  # why a statement cannot be drafted yet

    @property
    def ready(self) -> bool:
        return not self.missing

    @property
    def adjustment_tco2e(self) -> Decimal | None:
        return None if self.verified_tco2e is None else self.verified_tco2e - self.claimed_total

    def as_dict(self) -> dict[str, Any]:
        est = self.estimate
        return {
            "population": self.population,
            "sampled": self.sampled,
            "with_findings": self.with_findings,
            "errors": self.errors,
            "non_conformities": self.non_conformities,
            "claimed_tco2e": str(self.claimed_total),
            "excluded_tco2e": str(self.excluded_total),
            "basis_tco2e": str(self.basis),
            "ratio": None if est is None else str(est.ratio.quantize(sampling.PLACES, rounding=ROUND_FLOOR)),
            "lower": None if est is None else str(est.lower),
            "upper": None if est is None else str(est.upper),
            "standard_error": None if est is None else round(est.standard_error, 8),
            "achieved_precision": None if est is None else round(est.achieved_precision, 6),
            "target_precision": None if est is None else str(est.reliability.precision),
            "confidence": None if est is None else str(est.reliability.confidence),
            "meets_target": None if est is None else est.meets_target,
            "applied_ratio": None if est is None else str(est.conservative_ratio),
            "verified_tco2e": None if self.verified_tco2e is None else str(self.verified_tco2e),
            "adjustment_tco2e": None if self.adjustment_tco2e is None else str(self.adjustment_tco2e),
            "credits_verified": self.credits_verified,
            "missing": self.missing,
        }


@exact
def compute_results(verification: Verification) -> Results:
    """The error ratio of the sample, extrapolated to the whole request (VVS-PoA v2 paras 359–360).

    Verified total = (claimed total − excluded claims) × applied ratio, where the applied ratio is
    the sample's Σverified/Σreported when the precision target is met and its lower confidence
    bound otherwise (domain.md §2.4 (b)); stratified plans use the combined ratio estimator.
    """
    by_stratum = frame_by_stratum(verification)
    entries = [e for group in by_stratum.values() for e in group]
    sampled = [e for e in entries if e.is_sampled]
    done = [e for e in sampled if e.has_finding]
    missing = []
    if verification.seed is None:
        missing.append("Draw the sample.")
    if len(done) < len(sampled):
        missing.append(f"Record findings for {len(sampled) - len(done)} more sampled sites.")
    undecided = [
        e.site_reference for e in entries if e.problems and e.population_decision is None and not e.is_sampled
    ]
    if undecided:
        missing.append(f"Decide on the whole-population problems of {len(undecided)} sites.")
    claimed = exact_sum(e.claimed_tco2e for e in entries)
    excluded = exact_sum(
        e.claimed_tco2e for e in entries if e.population_decision is PopulationDecision.excluded
    )
    estimate = None
    if len(done) >= 2 and len(done) == len(sampled):
        reliability = sampling.Reliability(verification.confidence, verification.relative_precision)
        findings = {
            h: [sampling.Finding(e.claimed_tco2e, e.verified_tco2e) for e in group if e.has_finding]
            for h, group in by_stratum.items()
        }
        try:
            if verification.stratify_by:
                estimate = sampling.estimate_stratified_ratio(
                    findings, {h: len(group) for h, group in by_stratum.items()}, reliability
                )
            else:
                estimate = sampling.estimate_ratio(
                    findings[NOT_STRATIFIED], reliability, population=len(entries)
                )
        except ValueError as error:
            missing.append(f"The sample cannot be estimated yet: {error}.")
    elif sampled and len(done) == len(sampled):
        missing.append("At least two sampled sites are needed to estimate the error ratio.")
    verified = credits = None
    if estimate is not None:
        verified = sampling.corrected_total(claimed - excluded, estimate)
        credits = emission_reductions.claimable_credits(verified)
    return Results(
        population=len(entries),
        sampled=len(sampled),
        with_findings=len(done),
        errors=sum(1 for e in done if e.outcome is FindingOutcome.error),
        non_conformities=sum(1 for e in done if e.outcome is FindingOutcome.non_conformity),
        claimed_total=claimed,
        excluded_total=excluded,
        basis=claimed - excluded,
        estimate=estimate,
        verified_tco2e=verified,
        credits_verified=credits,
        missing=missing,
    )


def suggested_extension(results: Results) -> int | None:
    """Sites to add so the observed spread would meet the target: n·(achieved/target)² − n, rounded up."""
    est = results.estimate
    if est is None or est.meets_target or results.sampled >= results.population:
        return None
    needed = -(-results.sampled * est.achieved_precision**2 // float(est.reliability.precision) ** 2)
    return int(min(max(needed - results.sampled, 1), results.population - results.sampled))
