"""Use cases of verification: assignment, sampling plan and draw, findings, results and statement.

The rules: domain.md §1.8 (the DOE samples CPAs by the registered method, checks every CPA's
physical features and corrects errors across the whole request), §2 (sample sizes, strata, seeded
reproducible draws, the conservative bound) and §6.1 (impartiality). The maths is in `sampling`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import statistics
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, Organisation, User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.audit import services as audit
from poa_manager.database import db, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.methodologies.base import exact
from poa_manager.monitoring import emission_reductions
from poa_manager.monitoring.models import IssuanceRequest, IssuanceRequestLine, MonitoringLine, RequestStatus
from poa_manager.monitoring.services.reports import exact_sum
from poa_manager.programmes.models import Programme, ProgrammeVersion
from poa_manager.programmes.rules import Mechanism, SamplingRule
from poa_manager.sites.eligibility import CriterionKind
from poa_manager.sites.models import Site
from poa_manager.verification import impartiality, policies, sampling
from poa_manager.verification.models import (
    Allocation,
    CheckMethod,
    FindingOutcome,
    FrameEntry,
    Opinion,
    ParameterKind,
    PopulationDecision,
    TeamMember,
    Verification,
    VerificationStatus,
)

# The applied rule per mechanism: the defaults, or the operator's POA_VERIFIER_IMPARTIALITY.
IMPARTIALITY_RULES: dict[Mechanism, impartiality.ImpartialityRule] = dict(impartiality.DEFAULT_RULES)

# A stratum needs two sampled sites to estimate its variance, unless it is sampled whole
# (sampling.estimate_stratified_ratio); the platform tops small allocations up to that [U].
MIN_PER_STRATUM = 2
NOT_STRATIFIED = "all"

# Site fields a plan may stratify by, besides "attributes.<key>" (domain.md §2.3 names CPA, region,
# technology vintage and capacity class).
STRATIFY_FIELDS = {
    "technology": "Technology",
    "area_code": "Region (ISO 3166-2)",
    "capacity_class": "Capacity class",
}
# Capacity classes in kW: the lower bounds of each class [U: a platform choice, shown in the UI].
CAPACITY_CLASSES_KW = (0, 10, 100, 1000)


def configure_impartiality(rules: Mapping[Mechanism, impartiality.ImpartialityRule]) -> None:
    """Apply the operator's per-mechanism rules (create_app, from POA_VERIFIER_IMPARTIALITY)."""
    IMPARTIALITY_RULES.clear()
    IMPARTIALITY_RULES.update(rules)


# --- reading -------------------------------------------------------------------------------------


def list_verifications(
    actor: User, *, programme: Programme | None = None, status: VerificationStatus | None = None
) -> sa.Select[tuple[Verification]]:
    query = policies.visible_verifications(actor).order_by(Verification.id.desc())
    if programme is not None:
        query = query.where(Verification.programme_id == programme.id)
    if status is not None:
        query = query.where(Verification.status == status)
    return query


def get_verification(verification_id: int, *, actor: User) -> Verification:
    return one_or_not_found(
        policies.visible_verifications(actor).where(Verification.id == verification_id),
        f"No verification {verification_id}.",
    )


def verification_of(request: IssuanceRequest, *, actor: User) -> Verification | None:
    """The live verification of a request, if the actor may see it."""
    return db.session.scalar(
        policies.visible_verifications(actor).where(
            Verification.request_id == request.id, Verification.status != VerificationStatus.cancelled
        )
    )


def frame_entries(verification: Verification, *, sampled_only: bool = False) -> sa.Select[tuple[FrameEntry]]:
    """The frame by stratum and reference; the sample by stratum in the order it was drawn."""
    query = verification.frame.select()
    if sampled_only:
        return query.where(FrameEntry.draw_order.is_not(None)).order_by(
            FrameEntry.stratum, FrameEntry.draw_order
        )
    return query.order_by(FrameEntry.stratum, FrameEntry.site_reference)


def get_entry(verification: Verification, site_id: int) -> FrameEntry:
    return one_or_not_found(
        verification.frame.select().where(FrameEntry.site_id == site_id),
        f"Site {site_id} is not in the frame of {verification.label}.",
    )


def verifier_organisations() -> list[Organisation]:
    return list(
        db.session.scalars(
            sa.select(Organisation)
            .where(Organisation.kind == OrganisationKind.verifier, Organisation.is_active)
            .order_by(Organisation.name)
        )
    )


def members_of(organisation_id: int) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.organisation_id == organisation_id, User.is_active)
            .order_by(User.email)
        )
    )


def impartiality_rule(programme: Programme) -> impartiality.ImpartialityRule:
    return IMPARTIALITY_RULES[programme.mechanism]


def prior_work(programme: Programme) -> list[impartiality.PriorWork]:
    """Validation and inclusion confirmations done for the programme, by person (domain.md §6.1)."""
    validated = db.session.execute(
        sa.select(ProgrammeVersion.number, User.id, User.organisation_id, User.email)
        .join(User, User.id == ProgrammeVersion.validated_by_id)
        .where(ProgrammeVersion.programme_id == programme.id)
        .order_by(ProgrammeVersion.number)
    )
    work = [
        impartiality.PriorWork(user_id, organisation_id, email, f"validated design version {number}")
        for number, user_id, organisation_id, email in validated
    ]
    confirmed = db.session.execute(
        sa.select(
            User.id, User.organisation_id, User.email, sa.func.count(Site.id), sa.func.min(Site.reference)
        )
        .join(User, User.id == Site.inclusion_confirmed_by_id)
        .where(Site.programme_id == programme.id)
        .group_by(User.id, User.organisation_id, User.email)
        .order_by(User.email)
    )
    for user_id, organisation_id, email, count, first in confirmed:
        what = f"confirmed the inclusion of {first}" + (f" and {count - 1} more sites" if count > 1 else "")
        work.append(impartiality.PriorWork(user_id, organisation_id, email, what))
    return work


# --- assignment and team -------------------------------------------------------------------------


def assign_verifier(
    request: IssuanceRequest,
    *,
    actor: User,
    organisation_id: int,
    team_user_ids: Collection[int],
    lead_user_id: int | None = None,
    due_on: date | None = None,
    now: datetime | None = None,
) -> Verification:
    """Give a submitted issuance request to a verifier organisation and its team."""
    programme = request.programme
    if not policies.can_assign(actor, programme):
        raise NotAllowed("Only the programme's coordinator or registry administrator assigns verifiers.")
    if request.status is not RequestStatus.submitted:
        raise RuleViolation(
            f"{request.label} is {request.status.label}: only a submitted request can be assigned.",
            code="request_not_submitted",
        )
    organisation = db.session.get(Organisation, organisation_id)
    if (
        organisation is None
        or organisation.kind is not OrganisationKind.verifier
        or not organisation.is_active
    ):
        message = "Choose an active verifier organisation (TPE/DOE/VVB)."
        raise InvalidInput(message, errors={"organisation_id": [message]})
    now = now or utcnow()
    if due_on is not None and due_on < now.date():
        raise InvalidInput("The due date has passed.", errors={"due_on": ["Give a date from today on."]})
    # Reliability defaults from the programme (domain.md §2.1): 90/10 small scale, 95/10 otherwise.
    design = programme.current_version
    rule = SamplingRule(design.sampling_rule) if design is not None else SamplingRule.ninety_ten
    verification = Verification(
        programme=programme,
        request=request,
        verifier_organisation=organisation,
        verifier_organisation_id=organisation.id,
        impartiality_rule=impartiality_rule(programme),
        assigned_by_id=actor.id,
        assigned_at=now,
        due_on=due_on,
        confidence=rule.confidence,
        relative_precision=rule.relative_precision,
        expected_cv=Decimal("0.5"),
        non_response=Decimal(0),
    )
    _apply_team(verification, team_user_ids, lead_user_id, actor=actor)
    db.session.add(verification)
    request.status = RequestStatus.under_verification
    db.session.flush()
    audit.record(
        "verification.assigned",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        after={
            "request": request.label,
            "programme": programme.reference,
            "organisation": organisation.name,
            "team": sorted(m.user.email for m in verification.team),
            "impartiality_rule": verification.impartiality_rule,
            "due_on": due_on,
        },
    )
    return verification


def set_team(
    verification: Verification,
    *,
    actor: User,
    team_user_ids: Collection[int],
    lead_user_id: int | None = None,
) -> Verification:
    """Change who does the work, re-checking impartiality for the new people."""
    if not policies.can_set_team(actor, verification):
        raise NotAllowed("Only the verifier organisation or the assigner can staff an open verification.")
    before = sorted(m.user.email for m in verification.team)
    _apply_team(verification, team_user_ids, lead_user_id, actor=actor)
    db.session.flush()
    audit.record(
        "verification.team_changed",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        before={"team": before},
        after={"team": sorted(m.user.email for m in verification.team)},
    )
    return verification


def _apply_team(
    verification: Verification, team_user_ids: Collection[int], lead_user_id: int | None, *, actor: User
) -> None:
    ids = sorted(set(team_user_ids))
    if not ids:
        raise InvalidInput("Name at least one person for the team.", errors={"team_user_ids": ["Required."]})
    people = {u.id: u for u in members_of(verification.verifier_organisation_id) if u.id in ids}
    strangers = [i for i in ids if i not in people]
    if strangers:
        message = f"The team must be active people of {verification.verifier_organisation.name}."
        raise InvalidInput(message, errors={"team_user_ids": [message]})
    if lead_user_id is not None and lead_user_id not in people:
        raise InvalidInput("The lead must be on the team.", errors={"lead_user_id": ["Pick a team member."]})
    problems = impartiality.conflicts(
        verification.impartiality_rule,
        organisation_id=verification.verifier_organisation_id,
        people=ids,
        prior_work=prior_work(verification.programme),
    )
    if problems:
        raise RuleViolation(
            "Impartiality: " + " ".join(problems) + f" (rule: {verification.impartiality_rule.label}).",
            code="impartiality",
        )
    lead = lead_user_id if lead_user_id is not None else ids[0]
    kept = {m.user_id: m for m in verification.team}
    verification.team = [kept.get(i) or TeamMember(user_id=i, user=people[i]) for i in ids]
    for member in verification.team:
        member.is_lead = member.user_id == lead
    for user in people.values():
        _grant_programme_access(user, verification.programme.id, actor=actor)


def _grant_programme_access(user: User, programme_id: int, *, actor: User) -> None:
    """The team reads the programme, its sites and readings through a verification_team role."""
    if Role.verification_team in user.roles_in(programme_id):
        return
    db.session.add(
        Membership(
            user_id=user.id, programme_id=programme_id, role=Role.verification_team, granted_by_id=actor.id
        )
    )
    db.session.flush()
    db.session.expire(user, ["memberships"])


def cancel_verification(verification: Verification, *, actor: User, reason: str) -> Verification:
    """Withdraw the assignment; the request goes back to waiting for a verifier."""
    if not policies.can_cancel(actor, verification):
        raise NotAllowed("Only the assigner can cancel an open verification.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "Say why the assignment is cancelled.", errors={"reason": ["A reason is required."]}
        )
    verification.status = VerificationStatus.cancelled
    verification.cancelled_reason = reason
    verification.request.status = RequestStatus.submitted
    db.session.flush()
    audit.record(
        "verification.cancelled",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        data={"reason": reason, "request": verification.request.label},
    )
    return verification


# --- the sampling plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanInput:
    """What the verifier sets (domain.md §2.2–2.3); strings as typed are parsed by `parse_plan`."""

    parameter_kind: ParameterKind = ParameterKind.mean
    confidence: Decimal = Decimal("0.90")
    relative_precision: Decimal = Decimal("0.10")
    expected_cv: Decimal | None = Decimal("0.5")
    expected_proportion: Decimal | None = None
    non_response: Decimal = Decimal(0)
    stratify_by: str | None = None
    allocation: Allocation = Allocation.proportional
    notes: str | None = None


@dataclass(frozen=True)
class StratumPlan:
    key: str
    size: int  # N_h
    sd_tco2e: float | None  # S_h of the claimed quantities, for Neyman allocation
    allocated: int  # n_h from the allocation formula
    n: int  # after the two-per-stratum minimum


@dataclass(frozen=True)
class PlanPreview:
    population: int
    sample_size: sampling.SampleSize
    strata: list[StratumPlan]
    total: int  # Σ n_h, the sample drawn
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        size = self.sample_size
        return {
            "population": self.population,
            "n": size.n,
            "exact": round(size.exact, 4),
            "formula": size.formula,
            "kind": size.kind,
            "parameter": size.parameter,
            "confidence": str(size.reliability.confidence),
            "relative_precision": str(size.reliability.precision),
            "z": round(size.reliability.z, 4),
            "non_response": size.non_response,
            "total": self.total,
            "notes": self.notes,
            "strata": [
                {"key": s.key, "size": s.size, "sd_tco2e": s.sd_tco2e, "allocated": s.allocated, "n": s.n}
                for s in self.strata
            ],
        }


def plan_of(verification: Verification) -> PlanInput:
    return PlanInput(
        parameter_kind=verification.parameter_kind,
        confidence=verification.confidence,
        relative_precision=verification.relative_precision,
        expected_cv=verification.expected_cv,
        expected_proportion=verification.expected_proportion,
        non_response=verification.non_response,
        stratify_by=verification.stratify_by,
        allocation=verification.allocation,
        notes=verification.plan_notes,
    )


def _check_plan(plan: PlanInput) -> sampling.Reliability:
    errors: dict[str, list[str]] = {}
    try:
        reliability = sampling.Reliability(plan.confidence, plan.relative_precision)
    except ValueError as error:
        errors["confidence"] = [str(error)]
        reliability = None
    if plan.parameter_kind is ParameterKind.mean and not (plan.expected_cv and plan.expected_cv > 0):
        errors["expected_cv"] = ["Give the expected coefficient of variation (SD/mean), e.g. 0.5."]
    if plan.parameter_kind is ParameterKind.proportion and not (
        plan.expected_proportion and 0 < plan.expected_proportion < 1
    ):
        errors["expected_proportion"] = ["Give the expected proportion, strictly between 0 and 1."]
    if not 0 <= plan.non_response < 1:
        errors["non_response"] = ["A share from 0 up to (not including) 1."]
    if plan.stratify_by and not (
        plan.stratify_by in STRATIFY_FIELDS or plan.stratify_by.startswith("attributes.")
    ):
        errors["stratify_by"] = [f"Choose one of {', '.join(STRATIFY_FIELDS)} or attributes.<key>."]
    if errors or reliability is None:
        raise InvalidInput("The sampling plan is incomplete.", errors=errors)
    return reliability


def stratify_options(verification: Verification) -> dict[str, str]:
    """The fields a plan may stratify by: the usual ones and every attribute the request's sites carry."""
    options = dict(STRATIFY_FIELDS)
    attributes = db.session.scalars(
        sa.select(Site.attributes).where(Site.id.in_(_request_site_ids(verification.request)))
    )
    keys = sorted({key for attrs in attributes for key in (attrs or {})})
    options.update({f"attributes.{key}": f"Site attribute: {key}" for key in keys})
    return options


def capacity_class(capacity_kw: Decimal | None) -> str:
    if capacity_kw is None:
        return "capacity unknown"
    lower = [b for b in CAPACITY_CLASSES_KW if capacity_kw >= b]
    start = lower[-1] if lower else 0
    index = CAPACITY_CLASSES_KW.index(start)
    if index + 1 < len(CAPACITY_CLASSES_KW):
        return f"{start}–{CAPACITY_CLASSES_KW[index + 1]} kW"
    return f"≥ {start} kW"


def _stratum_of(site: Site, stratify_by: str | None) -> str:
    if not stratify_by:
        return NOT_STRATIFIED
    if stratify_by == "capacity_class":
        return capacity_class(site.capacity_kw)
    if stratify_by.startswith("attributes."):
        value = (site.attributes or {}).get(stratify_by.removeprefix("attributes."))
    else:
        value = getattr(site, stratify_by)
    return "(none)" if value in (None, "") else str(value)[:120]


def _request_site_ids(request: IssuanceRequest) -> sa.Select:
    return sa.select(IssuanceRequestLine.site_id).where(IssuanceRequestLine.request_id == request.id)


@dataclass(frozen=True)
class _FrameSite:
    site_id: int
    reference: str
    stratum: str
    claimed: Decimal
    problems: list[str]


def _build_frame(verification: Verification, stratify_by: str | None) -> list[_FrameSite]:
    """Every site of the request, with its claimed total and whole-population check problems."""
    rows = db.session.execute(
        sa.select(IssuanceRequestLine, MonitoringLine)
        .join(MonitoringLine, MonitoringLine.id == IssuanceRequestLine.monitoring_line_id)
        .where(IssuanceRequestLine.request_id == verification.request_id)
    ).all()
    claimed: dict[int, list[Decimal]] = defaultdict(list)
    problems: dict[int, list[str]] = defaultdict(list)
    for request_line, line in rows:
        claimed[request_line.site_id].append(request_line.claimed_tco2e)
        window = f"{line.window_start.isoformat()}–{line.window_end.isoformat()}"
        if "calibration_lapsed" in (line.flags or []):
            problems[request_line.site_id].append(
                f"Calibration lapsed in {window}; readings were discounted."
            )
        if line.problem:
            problems[request_line.site_id].append(f"{window}: {line.problem}")
    sites = {s.id: s for s in db.session.scalars(sa.select(Site).where(Site.id.in_(list(claimed))))}
    required = _required_documents(verification.programme)
    frame = []
    for site_id, amounts in claimed.items():
        site = sites[site_id]
        present = {kind.casefold() for kind in site.documents or []}
        missing = [kind for kind in required if kind.casefold() not in present]
        site_problems = list(problems[site_id])
        if missing:
            site_problems.insert(0, f"Missing documents: {', '.join(missing)}.")
        frame.append(
            _FrameSite(
                site_id, site.reference, _stratum_of(site, stratify_by), exact_sum(amounts), site_problems
            )
        )
    # The frame is sorted by reference: sampling.draw_sample needs a sorted, duplicate-free list.
    return sorted(frame, key=lambda f: f.reference)


def _required_documents(programme: Programme) -> list[str]:
    """Document kinds the registered design requires of every site (its documents criteria)."""
    version = programme.current_version
    if version is None:
        return []
    kinds: list[str] = []
    for criterion in version.eligibility_criteria or []:
        if criterion.get("kind") == CriterionKind.documents_present:
            kinds += [k for k in criterion.get("params", {}).get("document_kinds", []) if k not in kinds]
    return kinds


def _sample_size(plan: PlanInput, population: int, reliability: sampling.Reliability) -> sampling.SampleSize:
    if plan.parameter_kind is ParameterKind.mean:
        return sampling.sample_size_mean(
            population, float(plan.expected_cv), reliability, non_response=float(plan.non_response)
        )
    return sampling.sample_size_proportion(
        population, float(plan.expected_proportion), reliability, non_response=float(plan.non_response)
    )


def _plan_strata(frame: list[_FrameSite], plan: PlanInput, n: int) -> tuple[list[StratumPlan], list[str]]:
    by_stratum: dict[str, list[_FrameSite]] = defaultdict(list)
    for site in frame:
        by_stratum[site.stratum].append(site)
    notes: list[str] = []
    sds = {
        h: (statistics.pstdev(float(s.claimed) for s in sites) if len(sites) > 1 else 0.0)
        for h, sites in by_stratum.items()
    }
    strata = {h: sampling.Stratum(len(sites), sds[h]) for h, sites in by_stratum.items()}
    n = max(n, len(strata))  # every stratum gets at least one (sampling.allocate)
    method = plan.allocation.value if plan.stratify_by else "proportional"
    try:
        allocated = sampling.allocate(n, strata, method)
    except ValueError:
        # Neyman gives strata without spread at most one; when they cannot absorb the sample,
        # proportional allocation is the honest fallback.
        allocated = sampling.allocate(n, strata, "proportional")
        notes.append("Neyman allocation could not place the whole sample; proportional allocation used.")
    plans = []
    for h in sorted(strata):
        size = strata[h].size
        topped = max(allocated[h], min(MIN_PER_STRATUM, size))
        if topped > allocated[h]:
            notes.append(f"Stratum {h}: {allocated[h]} → {topped}, so its variance can be estimated.")
        plans.append(
            StratumPlan(h, size, round(sds[h], 6) if plan.stratify_by else None, allocated[h], topped)
        )
    return plans, notes


def preview_plan(verification: Verification, *, plan: PlanInput) -> PlanPreview:
    """The sample size and allocation a plan would give for this request, without drawing."""
    reliability = _check_plan(plan)
    return _preview(verification, plan, reliability, _build_frame(verification, plan.stratify_by))


def _preview(
    verification: Verification, plan: PlanInput, reliability: sampling.Reliability, frame: list[_FrameSite]
) -> PlanPreview:
    if not frame:
        raise RuleViolation(f"{verification.request.label} covers no sites.", code="empty_frame")
    size = _sample_size(plan, len(frame), reliability)
    strata, notes = _plan_strata(frame, plan, size.n)
    return PlanPreview(len(frame), size, strata, sum(s.n for s in strata), notes)


def frame_csv(entries: list[tuple[str, str, Decimal]]) -> bytes:
    """The frozen frame as published: reference, stratum, claimed tCO2e, sorted by reference."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["site_reference", "stratum", "claimed_tco2e"])
    writer.writerows(sorted(entries))
    return buffer.getvalue().encode()


def draw(
    verification: Verification,
    *,
    actor: User,
    plan: PlanInput,
    seed: int | None = None,
    now: datetime | None = None,
) -> Verification:
    """Freeze the frame (every site of the request) and draw the sample with a stored seed.

    A redraw replaces the frame and the sample, and is refused once any finding exists
    (domain.md §2.5: the seed and the frozen frame make the draw reproducible, not repeatable at will).
    """
    if not policies.can_work_on(actor, verification):
        raise NotAllowed("Only the verification team can draw the sample of an open verification.")
    if _findings_exist(verification):
        raise RuleViolation(
            "Findings are recorded: the sample can no longer be redrawn.", code="findings_exist"
        )
    if seed is not None and not 0 <= seed < 2**63:
        raise InvalidInput("The seed is a whole number from 0 to 2⁶³−1.", errors={"seed": ["Out of range."]})
    reliability = _check_plan(plan)
    frame = _build_frame(verification, plan.stratify_by)
    preview = _preview(verification, plan, reliability, frame)
    seed = secrets.randbelow(2**63) if seed is None else seed
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for site in frame:
        by_stratum[site.stratum].append(site.reference)
    drawn = sampling.draw_stratified(by_stratum, {s.key: s.n for s in preview.strata}, seed=seed)
    order = {ref: i for refs in drawn.values() for i, ref in enumerate(refs)}

    db.session.execute(sa.delete(FrameEntry).where(FrameEntry.verification_id == verification.id))
    db.session.add_all(
        FrameEntry(
            verification_id=verification.id,
            site_id=site.site_id,
            site_reference=site.reference,
            stratum=site.stratum,
            claimed_tco2e=site.claimed,
            draw_round=1 if site.reference in order else None,
            draw_order=order.get(site.reference),
            problems=site.problems,
        )
        for site in frame
    )
    _store_plan(verification, plan)
    verification.sample_size = preview.sample_size.n
    verification.sample_size_detail = preview.as_dict()
    verification.strata = {s.key: {"N": s.size, "n": s.n, "sd_tco2e": s.sd_tco2e} for s in preview.strata}
    verification.seed = seed
    verification.frame_sha256 = hashlib.sha256(
        frame_csv([(s.reference, s.stratum, s.claimed) for s in frame])
    ).hexdigest()
    verification.drawn_by_id = actor.id
    verification.drawn_at = now or utcnow()
    verification.status = VerificationStatus.sampling
    db.session.flush()
    audit.record(
        "verification.sample_drawn",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        after={
            "seed": str(seed),
            "frame_sha256": verification.frame_sha256,
            "population": len(frame),
            "sample": sorted(order),
            "plan": verification.sample_size_detail,
        },
    )
    return verification


def _store_plan(verification: Verification, plan: PlanInput) -> None:
    verification.parameter_kind = plan.parameter_kind
    verification.confidence = plan.confidence
    verification.relative_precision = plan.relative_precision
    verification.expected_cv = plan.expected_cv if plan.parameter_kind is ParameterKind.mean else None
    verification.expected_proportion = (
        plan.expected_proportion if plan.parameter_kind is ParameterKind.proportion else None
    )
    verification.non_response = plan.non_response
    verification.stratify_by = plan.stratify_by or None
    verification.allocation = plan.allocation
    verification.plan_notes = plan.notes


def _findings_exist(verification: Verification) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(FrameEntry)
            .where(FrameEntry.verification_id == verification.id, FrameEntry.outcome.is_not(None))
        )
    )


def _sequences(verification: Verification) -> dict[str, list[FrameEntry]]:
    entries = db.session.scalars(frame_entries(verification)).all()
    by_stratum: dict[str, list[FrameEntry]] = defaultdict(list)
    for entry in entries:
        by_stratum[entry.stratum].append(entry)
    return by_stratum


def extend_sample(verification: Verification, *, actor: User, additional: int) -> list[FrameEntry]:
    """Draw `additional` more sites from the same seeded sequences (domain.md §2.4 (a)).

    The new total is allocated like the first draw; each stratum continues its own permutation, so
    earlier draws stay where they are and no site is drawn twice.
    """
    if not policies.can_work_on(actor, verification) or verification.seed is None:
        raise NotAllowed("Only the team can extend a drawn sample of an open verification.")
    by_stratum = _sequences(verification)
    population = sum(len(e) for e in by_stratum.values())
    already = {h: sum(1 for e in entries if e.is_sampled) for h, entries in by_stratum.items()}
    drawn_so_far = sum(already.values())
    if not 1 <= additional <= population - drawn_so_far:
        message = f"Between 1 and {population - drawn_so_far} more sites."
        raise InvalidInput(message, errors={"additional": [message]})
    strata = {
        h: sampling.Stratum(len(e), verification.strata.get(h, {}).get("sd_tco2e"))
        for h, e in by_stratum.items()
    }
    method = verification.allocation.value if verification.stratify_by else "proportional"
    try:
        target = sampling.allocate(drawn_so_far + additional, strata, method)
    except ValueError:
        target = sampling.allocate(drawn_so_far + additional, strata, "proportional")
    wanted = {h: max(target[h], already[h]) for h in by_stratum}
    # Largest-remainder allocation is not monotone in n: trim any overshoot from the largest strata.
    overshoot = sum(wanted.values()) - drawn_so_far - additional
    for h in sorted(wanted, key=lambda h: (-(wanted[h] - already[h]), h)):
        cut = min(overshoot, wanted[h] - already[h])
        wanted[h] -= cut
        overshoot -= cut
    frames = {h: [e.site_reference for e in entries] for h, entries in by_stratum.items()}
    more = sampling.draw_stratified(
        frames, {h: wanted[h] - already[h] for h in by_stratum}, seed=verification.seed, already=already
    )
    round_number = 1 + max((e.draw_round or 0 for entries in by_stratum.values() for e in entries), default=0)
    added = []
    for h, references in more.items():
        entries = {e.site_reference: e for e in by_stratum[h]}
        for offset, reference in enumerate(references):
            entry = entries[reference]
            entry.draw_round, entry.draw_order = round_number, already[h] + offset
            added.append(entry)
    for h in by_stratum:
        verification.strata = {
            **verification.strata,
            h: {**verification.strata.get(h, {}), "n": wanted[h]},
        }
    db.session.flush()
    audit.record(
        "verification.sample_extended",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        after={"round": round_number, "added": sorted(e.site_reference for e in added)},
    )
    return added


def reproduces(verification: Verification) -> bool:
    """Whether the stored frame and seed give exactly the stored sample, in the stored order."""
    if verification.seed is None:
        return False
    for h, entries in _sequences(verification).items():
        drawn = sorted((e for e in entries if e.is_sampled), key=lambda e: e.draw_order)
        frame = [e.site_reference for e in entries]
        again = sampling.draw_sample(frame, len(drawn), seed=sampling.stratum_seed(verification.seed, h))
        if again != [e.site_reference for e in drawn]:
            return False
    return True


# --- findings and whole-population checks --------------------------------------------------------


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
    if not policies.can_work_on(actor, verification):
        raise NotAllowed("Only the verification team can record findings of an open verification.")
    entry = get_entry(verification, site_id)
    if not entry.is_sampled:
        raise RuleViolation(f"{entry.site_reference} is not in the sample.", code="not_sampled")
    errors: dict[str, list[str]] = {}
    if verified_tco2e is None or not verified_tco2e.is_finite() or verified_tco2e < 0:
        errors["verified_tco2e"] = ["A quantity of zero or more tCO2e."]
    elif verified_tco2e.as_tuple().exponent < -6:  # type: ignore[operator]
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


# --- results -------------------------------------------------------------------------------------


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
    by_stratum = _sequences(verification)
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


# --- the statement -------------------------------------------------------------------------------


def draft_statement(
    verification: Verification, *, actor: User, opinion: Opinion, summary: str, now: datetime | None = None
) -> Verification:
    """The team's verification statement: opinion, verified quantity, findings and sampling figures."""
    if not policies.can_work_on(actor, verification):
        raise NotAllowed("Only the verification team drafts the statement of an open verification.")
    results = compute_results(verification)
    if not results.ready:
        raise RuleViolation(
            "Not ready for a statement: " + " ".join(results.missing), code="results_incomplete"
        )
    summary = (summary or "").strip()
    if not summary:
        raise InvalidInput("Summarise the findings.", errors={"summary": ["A summary is required."]})
    verification.opinion = opinion
    verification.summary = summary
    verification.results = {
        **results.as_dict(),
        "seed": str(verification.seed),
        "plan": verification.sample_size_detail,
    }
    verification.verified_tco2e = results.verified_tco2e if opinion is Opinion.positive else Decimal(0)
    verification.credits_verified = results.credits_verified if opinion is Opinion.positive else 0
    verification.drafted_by_id = actor.id
    verification.drafted_at = now or utcnow()
    verification.status = VerificationStatus.statement_drafted
    db.session.flush()
    audit.record(
        "verification.statement_drafted",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        after={"opinion": opinion, "verified_tco2e": verification.verified_tco2e, "summary": summary},
    )
    return verification


def four_eyes_problem(actor: User, verification: Verification) -> str | None:
    """Why `actor` may not approve: they recorded findings or drafted the statement, while the
    organisation has someone else who could approve. None when they may."""
    involved = set(
        db.session.scalars(
            sa.select(FrameEntry.recorded_by_id).where(
                FrameEntry.verification_id == verification.id, FrameEntry.recorded_by_id.is_not(None)
            )
        )
    ) | {verification.drafted_by_id}
    if actor.id not in involved:
        return None
    if len(members_of(verification.verifier_organisation_id)) <= 1:
        return None  # a one-person organisation: no second pair of eyes exists (noted in the statement)
    return "Four eyes: the statement is approved by someone who neither recorded findings nor drafted it."


def approve_statement(
    verification: Verification, *, actor: User, now: datetime | None = None
) -> Verification:
    """Issue the statement. A positive one sends the request to the registry, a negative one back."""
    if not policies.can_review_statement(actor, verification):
        raise NotAllowed("Only the verifier organisation approves a drafted statement.")
    problem = four_eyes_problem(actor, verification)
    if problem:
        raise RuleViolation(problem, code="four_eyes")
    problems = impartiality.conflicts(
        verification.impartiality_rule,
        organisation_id=verification.verifier_organisation_id,
        people=[actor.id],
        prior_work=prior_work(verification.programme),
    )
    if problems:
        raise RuleViolation("Impartiality: " + " ".join(problems), code="impartiality")
    verification.approved_by_id = actor.id
    verification.approved_at = now or utcnow()
    verification.results = {
        **verification.results,
        "single_person_organisation": len(members_of(verification.verifier_organisation_id)) <= 1,
    }
    verification.status = VerificationStatus.completed
    request = verification.request
    request.status = (
        RequestStatus.verified if verification.opinion is Opinion.positive else RequestStatus.returned
    )
    db.session.flush()
    audit.record(
        "verification.statement_issued",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        after={
            "opinion": verification.opinion,
            "verified_tco2e": verification.verified_tco2e,
            "credits_verified": verification.credits_verified,
            "request": request.label,
            "request_status": request.status,
        },
    )
    return verification


def return_draft(verification: Verification, *, actor: User, reason: str) -> Verification:
    """The reviewer sends the draft back to the team; findings stay, the statement is cleared."""
    if not policies.can_review_statement(actor, verification):
        raise NotAllowed("Only the verifier organisation reviews a drafted statement.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say what to change.", errors={"reason": ["A reason is required."]})
    before = {"opinion": verification.opinion, "summary": verification.summary}
    verification.opinion = verification.summary = verification.verified_tco2e = None
    verification.credits_verified = verification.drafted_by_id = verification.drafted_at = None
    verification.results = {}
    verification.status = VerificationStatus.sampling
    db.session.flush()
    audit.record(
        "verification.statement_returned",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        before=before,
        data={"reason": reason},
    )
    return verification
