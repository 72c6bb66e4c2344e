"""The sampling plan, the frozen frame and the seeded draw (domain.md §2.2–2.5): sample sizes with the
finite-population correction, strata, reproducible draws and their extension."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.monitoring.models import IssuanceRequest, IssuanceRequestLine, MonitoringLine
from poa_manager.monitoring.services.reports import exact_sum
from poa_manager.programmes.models import Programme
from poa_manager.sites.eligibility import CriterionKind
from poa_manager.sites.models import Site
from poa_manager.verification import policies, sampling
from poa_manager.verification.models import (
    Allocation,
    FrameEntry,
    ParameterKind,
    Verification,
    VerificationStatus,
)

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


def _stratum_of(site, stratify_by: str | None) -> str:
    """The site's stratum key; `site` is a Site or a row of its columns."""
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
    # Columns, not entities: a frame can hold 100,000 sites (bench/bench_verification.py).
    rows = db.session.execute(
        sa.select(
            IssuanceRequestLine.site_id,
            IssuanceRequestLine.claimed_tco2e,
            MonitoringLine.window_start,
            MonitoringLine.window_end,
            MonitoringLine.flags,
            MonitoringLine.problem,
        )
        .join(MonitoringLine, MonitoringLine.id == IssuanceRequestLine.monitoring_line_id)
        .where(IssuanceRequestLine.request_id == verification.request_id)
    )
    claimed: dict[int, list[Decimal]] = defaultdict(list)
    problems: dict[int, list[str]] = defaultdict(list)
    for site_id, claim, window_start, window_end, flags, problem in rows:
        claimed[site_id].append(claim)
        window = f"{window_start.isoformat()}–{window_end.isoformat()}"
        if "calibration_lapsed" in (flags or []):
            problems[site_id].append(f"Calibration lapsed in {window}; readings were discounted.")
        if problem:
            problems[site_id].append(f"{window}: {problem}")
    site_columns = (
        Site.id,
        Site.reference,
        Site.documents,
        Site.technology,
        Site.area_code,
        Site.capacity_kw,
        Site.attributes,
    )
    sites = {
        row.id: row
        for row in db.session.execute(
            sa.select(*site_columns).where(Site.id.in_(_request_site_ids(verification.request)))
        )
    }
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
    lock(verification)
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
    # One bulk INSERT (executemany), not an object per site: the ORM trap of performance.md.
    db.session.execute(
        sa.insert(FrameEntry),
        [
            {
                "verification_id": verification.id,
                "site_id": site.site_id,
                "site_reference": site.reference,
                "stratum": site.stratum,
                "claimed_tco2e": site.claimed,
                "draw_round": 1 if site.reference in order else None,
                "draw_order": order.get(site.reference),
                "problems": site.problems,
            }
            for site in frame
        ],
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


def frame_by_stratum(verification: Verification) -> dict[str, list[FrameEntry]]:
    """The frozen frame per stratum, each in reference order (the order the draw permutes)."""
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
    lock(verification)
    if not policies.can_work_on(actor, verification) or verification.seed is None:
        raise NotAllowed("Only the team can extend a drawn sample of an open verification.")
    by_stratum = frame_by_stratum(verification)
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
    for h, entries in frame_by_stratum(verification).items():
        drawn = sorted((e for e in entries if e.is_sampled), key=lambda e: e.draw_order)
        frame = [e.site_reference for e in entries]
        again = sampling.draw_sample(frame, len(drawn), seed=sampling.stratum_seed(verification.seed, h))
        if again != [e.site_reference for e in drawn]:
            return False
    return True
