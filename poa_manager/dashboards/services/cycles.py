"""Cycle times of issuance requests: per request, per programme and for the portfolio.

Every date is read where its step recorded it (see dashboards.models); one joined query per
view, whatever the number of requests, and the arithmetic in the pure `dashboards.cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.dashboards import cycles, policies
from poa_manager.dashboards.models import ReferenceBatch, ReferenceCycle, ServiceLevelTarget
from poa_manager.database import db, utcnow
from poa_manager.errors import InvalidInput, NotAllowed
from poa_manager.monitoring.models import IssuanceRequest, MonitoringReport, RequestStatus
from poa_manager.programmes.models import Programme
from poa_manager.registry.models import Issuance
from poa_manager.verification.models import Verification, VerificationStatus

SLOWEST = 10
HISTOGRAM_DAYS = 30  # the distribution chart's bucket width
MAX_TARGET_DAYS = 3650


# --- service-level targets ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    step: cycles.Step
    target_days: int
    is_default: bool  # no row: the [U] default in code applies
    updated_at: datetime | None


def targets() -> dict[str, int]:
    """Target days per step: the stored ones over the defaults."""
    stored = dict(
        db.session.execute(sa.select(ServiceLevelTarget.step, ServiceLevelTarget.target_days)).all()
    )
    return {key: stored.get(key, default) for key, default in cycles.DEFAULT_TARGETS.items()}


def target_table() -> list[Target]:
    rows = {row.step: row for row in db.session.scalars(sa.select(ServiceLevelTarget))}
    table = []
    for step in cycles.ALL_STEPS:
        row = rows.get(step.key)
        table.append(
            Target(
                step=step,
                target_days=row.target_days if row else step.default_target_days,
                is_default=row is None,
                updated_at=row.updated_at if row else None,
            )
        )
    return table


def set_targets(*, actor: User, changes: dict[str, int], now: datetime | None = None) -> list[Target]:
    """Change some steps' targets (days, whole and positive); a platform administrator's act."""
    if not policies.can_edit_targets(actor):
        raise NotAllowed("Only a platform administrator can change the service-level targets.")
    errors: dict[str, list[str]] = {}
    for key, days in changes.items():
        if key not in cycles.STEP_KEYS:
            errors[key] = [f"Unknown step; one of {', '.join(cycles.STEP_KEYS)}."]
        elif not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_TARGET_DAYS:
            errors[key] = [f"Enter a whole number of days from 1 to {MAX_TARGET_DAYS}."]
    if errors:
        raise InvalidInput("Some targets are not valid.", errors=errors)
    now = now or utcnow()
    before = targets()
    for key, days in changes.items():
        row = db.session.get(ServiceLevelTarget, key)
        if row is None:
            row = ServiceLevelTarget(step=key)
            db.session.add(row)
        row.target_days = days
        row.updated_at = now
        row.updated_by_id = actor.id
    db.session.flush()
    changed = {key: days for key, days in changes.items() if before[key] != days}
    if changed:
        audit.record(
            "service_level_targets.changed",
            actor=actor,
            entity_type="service_level_targets",
            entity_id="all",
            before={key: before[key] for key in changed},
            after=changed,
        )
    return target_table()


# --- cycle times ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestCycle:
    request_id: int
    label: str
    status: RequestStatus
    programme_id: int
    programme_reference: str
    milestones: dict[str, date | None]
    cycle: cycles.CycleTime


def _cycle_query(actor: User) -> sa.Select:
    """One row per standing request with every milestone date: outer joins to the live
    verification (at most one, a partial unique index) and the issuance (unique per request)."""
    live = sa.and_(
        Verification.request_id == IssuanceRequest.id, Verification.status != VerificationStatus.cancelled
    )
    return (
        sa.select(
            IssuanceRequest.id,
            IssuanceRequest.number,
            IssuanceRequest.status,
            IssuanceRequest.requested_at,
            Programme.id,
            Programme.reference,
            MonitoringReport.period_end,
            MonitoringReport.submitted_at,
            Verification.assigned_at,
            Verification.approved_at,
            Issuance.approved_at,
            Issuance.forwarded_at,
        )
        .join(Programme, Programme.id == IssuanceRequest.programme_id)
        .join(MonitoringReport, MonitoringReport.id == IssuanceRequest.report_id)
        .outerjoin(Verification, live)
        .outerjoin(Issuance, Issuance.request_id == IssuanceRequest.id)
        .where(
            IssuanceRequest.status != RequestStatus.withdrawn,
            IssuanceRequest.programme_id.in_(policies.visible_programme_ids(actor)),
        )
        .order_by(Programme.reference, IssuanceRequest.number)
    )


def request_cycles(
    *,
    actor: User,
    today: date,
    programme: Programme | None = None,
    targets_in_force: dict[str, int] | None = None,
) -> list[RequestCycle]:
    """Every standing request the actor may see (or one programme's), with its cycle time.

    A returned request (negative statement) stops at the statement: nothing after it is due.
    """
    query = _cycle_query(actor)
    if programme is not None:
        query = query.where(IssuanceRequest.programme_id == programme.id)
    in_force = targets_in_force or targets()
    found = []
    for row in db.session.execute(query):
        (request_id, number, status, requested_at, programme_id, reference, period_end, submitted_at,
         assigned_at, statement_at, approved_at, forwarded_at) = row  # fmt: skip
        milestones = {
            "period_end": period_end,
            "submitted": cycles.as_date(submitted_at or requested_at),
            "verifier_assigned": cycles.as_date(assigned_at),
            "statement": cycles.as_date(statement_at),
            "issuance_approved": cycles.as_date(approved_at),
            "forwarded": cycles.as_date(forwarded_at),
        }
        stopped = status is RequestStatus.returned
        cycle = cycles.cycle_time(milestones, today=today, targets=in_force, stopped=stopped)
        found.append(
            RequestCycle(request_id, f"IR-{number:03d}", status, programme_id, reference, milestones, cycle)
        )
    return found


@dataclass(frozen=True)
class StepSummary:
    step: cycles.Step
    target_days: int
    median_days: float | None  # over finished steps
    finished: int
    in_progress: int
    overdue: int


@dataclass(frozen=True)
class ProgrammeSummary:
    programme_id: int
    reference: str
    requests: int
    finished: int
    median_total_days: float | None  # finished cycles only
    overdue: int


@dataclass(frozen=True)
class CycleSummary:
    requests: list[RequestCycle]
    steps: list[StepSummary]
    programmes: list[ProgrammeSummary]
    slowest: list[RequestCycle]  # by total days, finished or not
    overdue: list[RequestCycle]  # most overdue first
    distribution: list[tuple[int, int, int]]  # total days of finished cycles: (from, to, count)
    median_total_days: float | None
    targets: dict[str, int]


def summarise(found: list[RequestCycle], in_force: dict[str, int]) -> CycleSummary:
    steps = []
    for step in cycles.ALL_STEPS:
        times = [r.cycle.step(step.key) for r in found]
        steps.append(
            StepSummary(
                step=step,
                target_days=in_force[step.key],
                median_days=cycles.median(t.days for t in times if t.finished),
                finished=sum(1 for t in times if t.finished),
                in_progress=sum(1 for t in times if t.days is not None and not t.finished),
                overdue=sum(1 for t in times if t.overdue),
            )
        )
    by_programme: dict[int, list[RequestCycle]] = {}
    for r in found:
        by_programme.setdefault(r.programme_id, []).append(r)
    programmes = [
        ProgrammeSummary(
            programme_id=programme_id,
            reference=rows[0].programme_reference,
            requests=len(rows),
            finished=sum(1 for r in rows if r.cycle.finished),
            median_total_days=cycles.median(r.cycle.total.days for r in rows if r.cycle.finished),
            overdue=sum(1 for r in rows if r.cycle.overdue),
        )
        for programme_id, rows in by_programme.items()
    ]
    finished_totals = [r.cycle.total.days for r in found if r.cycle.finished]
    overdue = sorted((r for r in found if r.cycle.overdue), key=lambda r: r.cycle.overdue_days, reverse=True)
    return CycleSummary(
        requests=found,
        steps=steps,
        programmes=programmes,
        slowest=cycles.slowest(found, key=lambda r: r.cycle.total.days, count=SLOWEST),
        overdue=overdue,
        distribution=cycles.histogram(finished_totals, width=HISTOGRAM_DAYS),
        median_total_days=cycles.median(finished_totals),
        targets=in_force,
    )


def portfolio(*, actor: User, today: date) -> CycleSummary:
    """Cycle times over every programme the actor may see."""
    in_force = targets()
    return summarise(request_cycles(actor=actor, today=today, targets_in_force=in_force), in_force)


def programme_cycles(programme: Programme, *, actor: User, today: date) -> CycleSummary:
    """One programme's cycle times (the caller got the programme through its visibility check)."""
    in_force = targets()
    found = request_cycles(actor=actor, today=today, programme=programme, targets_in_force=in_force)
    return summarise(found, in_force)


# --- reference cycles -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    cycle: ReferenceCycle
    months: int
    duration: str  # "5 years 4 months"
    days: int


def reference_cycles(*, actor: User) -> list[Reference]:
    """Published cycles from outside the platform, longest first (public facts: any account)."""
    if not policies.can_see_references(actor):
        raise NotAllowed("Log in to see the reference cycles.")
    rows = db.session.scalars(sa.select(ReferenceCycle).order_by(ReferenceCycle.reference))
    found = [
        Reference(
            cycle=row,
            months=cycles.months_between(row.monitoring_end, row.notified_on),
            duration=cycles.years_and_months(row.monitoring_end, row.notified_on),
            days=(row.notified_on - row.monitoring_end).days,
        )
        for row in rows
    ]
    return sorted(found, key=lambda r: (-r.days, r.cycle.reference))


def reference_batches(*, actor: User) -> list[ReferenceBatch]:
    if not policies.can_see_references(actor):
        raise NotAllowed("Log in to see the reference cycles.")
    return list(db.session.scalars(sa.select(ReferenceBatch).order_by(ReferenceBatch.notified_on)))


def reference_median_days(references: list[Reference]) -> float | None:
    return cycles.median(r.days for r in references)
