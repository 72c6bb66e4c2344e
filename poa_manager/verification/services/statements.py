"""The verification statement: drafted by the team, approved by a second person (four eyes), and the
request moved on to the registry or back to the coordinator."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.monitoring.models import IssuanceRequestLine, RequestStatus
from poa_manager.sites.models import Site
from poa_manager.verification import impartiality, policies
from poa_manager.verification.models import (
    FrameEntry,
    Opinion,
    PopulationDecision,
    Verification,
    VerificationStatus,
)
from poa_manager.verification.services.assignment import members_of, prior_work
from poa_manager.verification.services.findings import compute_results


def draft_statement(
    verification: Verification, *, actor: User, opinion: Opinion, summary: str, now: datetime | None = None
) -> Verification:
    """The team's verification statement: opinion, verified quantity, findings and sampling figures."""
    lock(verification)
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
    lock(verification)  # approve and send back at once: one of them finds it no longer drafted
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
    if verification.opinion is Opinion.positive:
        _mark_sites_verified(verification)
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


def _mark_sites_verified(verification: Verification) -> None:
    """Record on each site that passed (every frame site not excluded) the end of its verified period.

    The Gold Standard inclusion route reads it: once a VPA of a technology passed verification, the
    CME includes that technology directly (domain.md §6.1).
    """
    ends = db.session.execute(
        sa.select(IssuanceRequestLine.site_id, sa.func.max(IssuanceRequestLine.period_end))
        .join(
            FrameEntry,
            sa.and_(
                FrameEntry.verification_id == verification.id,
                FrameEntry.site_id == IssuanceRequestLine.site_id,
            ),
        )
        .where(
            IssuanceRequestLine.request_id == verification.request_id,
            sa.or_(
                FrameEntry.population_decision.is_(None),
                FrameEntry.population_decision != PopulationDecision.excluded,
            ),
        )
        .group_by(IssuanceRequestLine.site_id)
    ).all()
    by_end: dict = defaultdict(list)
    for site_id, end in ends:
        by_end[end].append(site_id)
    for end, site_ids in by_end.items():
        # In chunks: PostgreSQL takes at most 65,535 parameters per statement, and a 100,000-site
        # request would exceed it (bench/bench_verification.py).
        for first in range(0, len(site_ids), _IDS_PER_STATEMENT):
            db.session.execute(
                sa.update(Site)
                .where(
                    Site.id.in_(site_ids[first : first + _IDS_PER_STATEMENT]),
                    sa.or_(Site.last_verified_on.is_(None), Site.last_verified_on < end),
                )
                .values(last_verified_on=end),
                execution_options={"synchronize_session": False},
            )


_IDS_PER_STATEMENT = 10_000


def return_draft(verification: Verification, *, actor: User, reason: str) -> Verification:
    """The reviewer sends the draft back to the team; findings stay, the statement is cleared."""
    lock(verification)
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
