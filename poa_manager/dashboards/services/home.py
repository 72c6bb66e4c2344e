"""What each role has to do, right after login: one section per role the user holds.

Every list is bounded: a count over an indexed condition and the first FIRST rows, with a link to
the full, paginated list on the feature's own page. Nothing here loads every site of a
programme, so the page costs the same with 100 sites or 100,000 (performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from poa_manager.accounts import services as account_services
from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.policies import can_administer
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.dashboards import cycles
from poa_manager.dashboards.services import cycles as cycle_services
from poa_manager.database import count_rows, db
from poa_manager.monitoring.models import (
    IssuanceRequest,
    MeterReadingStatus,
    MonitoringReport,
    Reading,
    ReadingUpload,
    ReportStatus,
    RequestStatus,
    UploadStatus,
    to_epoch,
)
from poa_manager.programmes.models import Programme
from poa_manager.registry import services as registry_services
from poa_manager.registry.models import (
    Article6Action,
    Authorization,
    CorrespondingAdjustment,
    SerialFreeze,
)
from poa_manager.sites.models import Meter, Site, SiteStatus
from poa_manager.verification.models import FrameEntry, TeamMember, Verification, VerificationStatus

FIRST = 20  # rows shown per list; the rest behind a link
STALE_DAYS = 7  # [U] a crediting site whose meters sent nothing for longer is "missing readings"
CALIBRATION_WARNING_DAYS = 30  # [U] calibrations expiring within this are shown as due
REPORTING_STATUSES = (SiteStatus.included, SiteStatus.crediting)
WAITING_STATUSES = {
    SiteStatus.draft: "eligibility check",
    SiteStatus.eligible: "inclusion",
    SiteStatus.awaiting_confirmation: "the verifier's confirmation",
}


@dataclass
class Listing:
    """The first rows of a list and how many there are in all."""

    total: int
    rows: list[Any]

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


def _listing(query: sa.Select, *, scalars: bool = True, total: int | None = None) -> Listing:
    """`total`: the count when the caller has it already (no second count over the same rows)."""
    total = count_rows(query) if total is None else total
    limited = query.limit(FIRST)
    rows = list(db.session.scalars(limited)) if scalars else list(db.session.execute(limited))
    return Listing(total, rows)


def _ids(query: sa.Select) -> list[int]:
    return list(db.session.scalars(query))


def programme_ids_with(actor: User, role: Role) -> sa.Select:
    return sa.select(Membership.programme_id).where(Membership.user_id == actor.id, Membership.role == role)


# --- coordinator ----------------------------------------------------------------------------------


@dataclass
class CoordinatorSection:
    programmes: Listing
    waiting_sites: dict[str, int]  # what the sites wait for -> how many
    waiting_first: Listing  # of Site
    missing_readings: Listing  # of (Site, last reading end or None)
    stale_days: int
    periods_to_close: Listing  # of MonitoringReport
    requests_waiting: Listing  # of IssuanceRequest
    overdue: list[cycle_services.RequestCycle]


def _stale_sites(programme_ids: sa.Select, cutoff: int) -> sa.Select:
    """Reporting sites none of whose meters has a reading ending after `cutoff` (epoch seconds).

    NOT EXISTS over meters (index on site_id) and meter_reading_status (its primary key): the
    readings table itself is never touched.
    """
    recent = (
        sa.select(Meter.id)
        .join(MeterReadingStatus, MeterReadingStatus.meter_id == Meter.id)
        .where(Meter.site_id == Site.id, MeterReadingStatus.last_reading_end >= cutoff)
    )
    return (
        sa.select(Site)
        .where(
            Site.programme_id.in_(programme_ids),
            Site.status.in_(REPORTING_STATUSES),
            ~sa.exists(recent),
        )
        .order_by(Site.programme_id, Site.reference)
    )


def last_readings(site_ids: list[int]) -> dict[int, int | None]:
    """The latest reading end over each site's meters (epoch seconds), from the status table."""
    if not site_ids:
        return {}
    rows = db.session.execute(
        sa.select(Meter.site_id, sa.func.max(MeterReadingStatus.last_reading_end))
        .join(MeterReadingStatus, MeterReadingStatus.meter_id == Meter.id)
        .where(Meter.site_id.in_(site_ids))
        .group_by(Meter.site_id)
    )
    found = dict(rows.all())
    return {site_id: found.get(site_id) for site_id in site_ids}


def coordinator_section(actor: User, *, now: datetime, overdue: list) -> CoordinatorSection | None:
    coordinated = programme_ids_with(actor, Role.coordinator)
    ids = set(_ids(coordinated))
    if not ids:
        return None
    programmes = _listing(
        sa.select(Programme).where(Programme.id.in_(coordinated)).order_by(Programme.reference)
    )
    counts = dict(
        db.session.execute(
            sa.select(Site.status, sa.func.count())
            .where(Site.programme_id.in_(coordinated), Site.status.in_(list(WAITING_STATUSES)))
            .group_by(Site.status)
        ).all()
    )
    waiting = {label: counts.get(status, 0) for status, label in WAITING_STATUSES.items()}
    waiting_first = _listing(
        sa.select(Site)
        .where(Site.programme_id.in_(coordinated), Site.status.in_(list(WAITING_STATUSES)))
        .order_by(Site.programme_id, Site.reference),
        total=sum(counts.values()),  # the same rows the per-status counts above covered
    )
    cutoff = to_epoch(now - timedelta(days=STALE_DAYS))
    stale = _listing(_stale_sites(coordinated, cutoff))
    last = last_readings([site.id for site in stale.rows])
    stale.rows = [(site, last[site.id]) for site in stale.rows]
    today = now.date()
    periods = _listing(
        sa.select(MonitoringReport)
        .where(
            MonitoringReport.programme_id.in_(coordinated),
            MonitoringReport.status == ReportStatus.draft,
            MonitoringReport.period_end < today,
        )
        .order_by(MonitoringReport.period_end)
    )
    requests = _listing(
        sa.select(IssuanceRequest)
        .where(
            IssuanceRequest.programme_id.in_(coordinated),
            IssuanceRequest.status.in_(
                [RequestStatus.submitted, RequestStatus.returned, RequestStatus.verified]
            ),
        )
        .order_by(IssuanceRequest.requested_at)
    )
    return CoordinatorSection(
        programmes=programmes,
        waiting_sites=waiting,
        waiting_first=waiting_first,
        missing_readings=stale,
        stale_days=STALE_DAYS,
        periods_to_close=periods,
        requests_waiting=requests,
        overdue=[r for r in overdue if r.programme_id in ids][:FIRST],
    )


# --- site operator --------------------------------------------------------------------------------


@dataclass
class SiteRow:
    site: Site
    meters: list[tuple[Meter, int | None]]  # (meter, last reading end in epoch seconds or None)


@dataclass
class OperatorSection:
    sites: Listing  # of SiteRow
    rejected_uploads: Listing  # of ReadingUpload
    calibrations_due: Listing  # of Meter
    calibration_warning_days: int


def own_site_ids(actor: User) -> sa.Select:
    return sa.select(Membership.site_id).where(
        Membership.user_id == actor.id, Membership.role == Role.site_operator, Membership.site_id.is_not(None)
    )


def operator_section(actor: User, *, now: datetime) -> OperatorSection | None:
    own = own_site_ids(actor)
    if db.session.scalar(own.limit(1)) is None:
        return None
    sites = _listing(sa.select(Site).where(Site.id.in_(own)).order_by(Site.programme_id, Site.reference))
    site_ids = [site.id for site in sites.rows]
    meter_rows = db.session.execute(
        sa.select(Meter, MeterReadingStatus.last_reading_end)
        .outerjoin(MeterReadingStatus, MeterReadingStatus.meter_id == Meter.id)
        .where(Meter.site_id.in_(site_ids))
        .order_by(Meter.site_id, Meter.serial)
    ).all()
    by_site: dict[int, list] = {site_id: [] for site_id in site_ids}
    for meter, last in meter_rows:
        by_site[meter.site_id].append((meter, last))
    sites.rows = [SiteRow(site, by_site[site.id]) for site in sites.rows]
    rejected = _listing(
        sa.select(ReadingUpload)
        .where(
            sa.or_(ReadingUpload.site_id.in_(own), ReadingUpload.uploaded_by_id == actor.id),
            ReadingUpload.status.in_([UploadStatus.rejected, UploadStatus.failed]),
        )
        .order_by(ReadingUpload.id.desc())
    )
    due_by = now.date() + timedelta(days=CALIBRATION_WARNING_DAYS)
    calibrations = _listing(
        sa.select(Meter)
        .where(
            Meter.site_id.in_(own),
            Meter.removed_at.is_(None),
            Meter.calibration_valid_until.is_not(None),
            Meter.calibration_valid_until <= due_by,
        )
        .order_by(Meter.calibration_valid_until, Meter.id)
    )
    return OperatorSection(sites, rejected, calibrations, CALIBRATION_WARNING_DAYS)


@dataclass(frozen=True)
class Completeness:
    site: Site
    period_start: date
    period_end: date
    percent: int  # share of the elapsed period covered by current readings, 0–100


def open_period(programme_id: int, today: date) -> tuple[date, date]:
    """The programme's latest draft monitoring report's period, else the current month (UTC)."""
    report = db.session.execute(
        sa.select(MonitoringReport.period_start, MonitoringReport.period_end)
        .where(MonitoringReport.programme_id == programme_id, MonitoringReport.status == ReportStatus.draft)
        .order_by(MonitoringReport.period_end.desc())
        .limit(1)
    ).first()
    if report:
        return report[0], report[1]
    start = today.replace(day=1)
    next_month = (start + timedelta(days=32)).replace(day=1)
    return start, next_month - timedelta(days=1)


def completeness(actor: User, *, now: datetime) -> list[Completeness]:
    """Per own site (the first FIRST), the share of the open period so far that readings cover.

    Expected readings are the period's elapsed time in the meters' intervals, so the share of
    time covered is the share of expected readings received, whatever the interval length. Per
    meter it is one range scan of the readings' primary key (meter, reading end), bounded to the
    period; a site's figure is its best-covered meter (export and backup meters overlap).
    """
    sites = list(
        db.session.scalars(
            sa.select(Site)
            .where(Site.id.in_(own_site_ids(actor)))
            .order_by(Site.programme_id, Site.reference)
            .limit(FIRST)
        )
    )
    today = now.date()
    found = []
    for site in sites:
        start, end = open_period(site.programme_id, today)
        begin = datetime.combine(start, datetime.min.time(), UTC)
        until = min(datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC), now)
        elapsed = max(int((until - begin).total_seconds()), 0)
        covered = 0
        if elapsed:
            later = aliased(Reading)
            current = ~sa.exists().where(
                later.meter_id == Reading.meter_id,
                later.reading_end == Reading.reading_end,
                later.version > Reading.version,
            )
            per_meter = db.session.execute(
                sa.select(Reading.meter_id, sa.func.sum(Reading.reading_end - Reading.reading_start))
                .join(Meter, Meter.id == Reading.meter_id)
                .where(
                    Meter.site_id == site.id,
                    Reading.reading_end > to_epoch(begin),
                    Reading.reading_end <= to_epoch(until),
                    current,
                )
                .group_by(Reading.meter_id)
            ).all()
            covered = max((int(seconds or 0) for _, seconds in per_meter), default=0)
        percent = min(100, covered * 100 // elapsed) if elapsed else 0
        found.append(Completeness(site, start, end, percent))
    return found


# --- verifier -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    verification: Verification
    due_on: date
    overdue_days: int
    frame_size: int
    drawn: int
    findings: int
    state: str


def verifier_section(actor: User, *, now: datetime, targets: dict[str, int]) -> Listing | None:
    if actor.organisation.kind is not OrganisationKind.verifier:
        return None
    team = sa.select(TeamMember.verification_id).where(TeamMember.user_id == actor.id)
    query = (
        sa.select(Verification)
        .where(
            sa.or_(
                Verification.verifier_organisation_id == actor.organisation_id,
                Verification.id.in_(team),
            ),
            Verification.status.not_in([VerificationStatus.cancelled, VerificationStatus.completed]),
        )
        .order_by(Verification.assigned_at)
    )
    listing = _listing(query)
    ids = [v.id for v in listing.rows]
    counts = {
        row[0]: row[1:]
        for row in db.session.execute(
            sa.select(
                FrameEntry.verification_id,
                sa.func.count(),
                sa.func.count(FrameEntry.draw_order),
                sa.func.count(FrameEntry.outcome),
            )
            .where(FrameEntry.verification_id.in_(ids))
            .group_by(FrameEntry.verification_id)
        )
    }
    rows = []
    for verification in listing.rows:
        size, drawn, findings = counts.get(verification.id, (0, 0, 0))
        due_on = cycles.as_date(verification.assigned_at) + timedelta(days=targets["statement"])
        rows.append(
            Assignment(
                verification=verification,
                due_on=due_on,
                overdue_days=max((now.date() - due_on).days, 0),
                frame_size=size,
                drawn=drawn,
                findings=findings,
                state=_assignment_state(verification, size, drawn, findings),
            )
        )
    listing.rows = rows
    return listing


def _assignment_state(verification: Verification, size: int, drawn: int, findings: int) -> str:
    if verification.status is VerificationStatus.statement_drafted:
        return "statement drafted, waiting for approval"
    if verification.drawn_at is None:
        return "sample not drawn"
    return f"sample drawn: {drawn} of {size} sites; findings recorded {findings} of {drawn}"


# --- registry administrator -----------------------------------------------------------------------


@dataclass
class RegistrySection:
    issuance_waiting: Listing  # of IssuanceRequest
    transactions_waiting: Listing  # of Transaction
    holds: Listing  # of Programme with a hold
    freezes: Listing  # of SerialFreeze in force
    overdue: list[cycle_services.RequestCycle]


def registry_section(actor: User, *, overdue: list) -> RegistrySection | None:
    administered = programme_ids_with(actor, Role.registry_administrator)
    ids = set(_ids(administered))
    if not ids:
        return None
    transactions = registry_services.awaiting_approval(actor=actor)
    return RegistrySection(
        issuance_waiting=_listing(registry_services.awaiting_issuance(actor=actor)),
        transactions_waiting=Listing(len(transactions), transactions[:FIRST]),
        holds=_listing(
            sa.select(Programme)
            .where(
                Programme.id.in_(administered),
                sa.or_(Programme.inclusion_hold.is_(True), Programme.issuance_hold.is_(True)),
            )
            .order_by(Programme.reference)
        ),
        freezes=_listing(
            sa.select(SerialFreeze)
            .where(SerialFreeze.programme_id.in_(administered), SerialFreeze.lifted_at.is_(None))
            .order_by(SerialFreeze.frozen_at.desc())
        ),
        overdue=[r for r in overdue if r.programme_id in ids][:FIRST],
    )


# --- host government ------------------------------------------------------------------------------


@dataclass
class GovernmentSection:
    country: str
    authorizations: Listing  # of Authorization
    by_vintage: list[dict[str, int]]  # {"vintage", "first_transferred", "adjusted"}


def government_section(actor: User) -> GovernmentSection | None:
    organisation = actor.organisation
    if organisation.kind is not OrganisationKind.host_government or not organisation.country_code:
        return None
    country = organisation.country_code.upper()
    authorizations = _listing(
        sa.select(Authorization)
        .where(Authorization.authorizing_party == country)
        .order_by(Authorization.authorized_on.desc(), Authorization.id.desc())
    )
    first = dict(
        db.session.execute(
            sa.select(Article6Action.vintage, sa.func.sum(Article6Action.quantity))
            .join(Authorization, Authorization.id == Article6Action.authorization_id)
            .where(Authorization.authorizing_party == country, Article6Action.first_transfer.is_(True))
            .group_by(Article6Action.vintage)
        ).all()
    )
    adjusted = dict(
        db.session.execute(
            sa.select(CorrespondingAdjustment.vintage, sa.func.sum(CorrespondingAdjustment.quantity))
            .where(CorrespondingAdjustment.party == country)
            .group_by(CorrespondingAdjustment.vintage)
        ).all()
    )
    vintages = sorted(set(first) | set(adjusted))
    rows = [
        {"vintage": v, "first_transferred": int(first.get(v) or 0), "adjusted": int(adjusted.get(v) or 0)}
        for v in vintages
    ]
    return GovernmentSection(country, authorizations, rows)


# --- the whole page -------------------------------------------------------------------------------


@dataclass
class Dashboard:
    user: User
    today: date
    targets: dict[str, int]
    coordinator: CoordinatorSection | None = None
    operator: OperatorSection | None = None
    verifier: Listing | None = None
    registry: RegistrySection | None = None
    government: GovernmentSection | None = None
    admin: Any = None  # accounts.services.AdminOverview
    sections: list[str] = field(default_factory=list)


def dashboard(*, actor: User, now: datetime) -> Dashboard:
    """Every section the actor's roles call for (a user with several roles sees each)."""
    today = now.date()
    targets = cycle_services.targets()
    page = Dashboard(user=actor, today=today, targets=targets)
    roles = actor.role_names
    overdue: list = []
    if roles & {Role.coordinator, Role.registry_administrator}:
        # One joined query for the cycle times of every visible request; sections take their part.
        overdue = cycle_services.summarise(
            cycle_services.request_cycles(actor=actor, today=today, targets_in_force=targets), targets
        ).overdue
    if Role.coordinator in roles:
        page.coordinator = coordinator_section(actor, now=now, overdue=overdue)
    if Role.site_operator in roles:
        page.operator = operator_section(actor, now=now)
    page.verifier = verifier_section(actor, now=now, targets=targets)
    if Role.registry_administrator in roles:
        page.registry = registry_section(actor, overdue=overdue)
    page.government = government_section(actor)
    if can_administer(actor):
        page.admin = account_services.admin_overview(actor, now=now)
    page.sections = [
        name
        for name in ("coordinator", "operator", "verifier", "registry", "government", "admin")
        if getattr(page, name) is not None
    ]
    return page
