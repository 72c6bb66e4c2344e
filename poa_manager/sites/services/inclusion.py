"""Checking sites against the programme's criteria, including them, and handling errors after.

domain.md §1.4–1.5 (criteria, who includes), §1.7 (crediting periods), §1.9 (erroneous inclusion),
§1.10 (site states), §4.5 (support tiers), §6.1–6.2 (Gold Standard and Verra inclusion routes).
"""

import math
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.geo import Point
from poa_manager.programmes import rules
from poa_manager.programmes import services as programme_services
from poa_manager.programmes.models import Programme, ProgrammeVersion
from poa_manager.sites import eligibility, policies
from poa_manager.sites.models import CheckOutcome, EligibilityCheck, Site, SiteStatus
from poa_manager.sites.services import guard

CHECKABLE_STATUSES = frozenset({SiteStatus.draft, SiteStatus.not_eligible, SiteStatus.eligible})
LIVE_STATUSES = frozenset({SiteStatus.included, SiteStatus.crediting})


# --- criteria ---------------------------------------------------------------------------------


def update_criteria(programme: Programme, *, actor: User, criteria: list[dict[str, Any]]) -> None:
    """Replace the draft design's eligibility criteria after checking each one's parameters."""
    problems = eligibility.validate_criteria(criteria)
    if problems:
        raise InvalidInput("Some criteria are not accepted.", errors=problems)
    stored = eligibility.criteria_to_data(eligibility.criteria_from_data(criteria))
    programme_services.set_eligibility_criteria(programme, actor=actor, criteria=stored)


def design_for_checks(programme: Programme) -> ProgrammeVersion:
    """The registered design; before registration, the draft (e.g. the real-case CPA at validation)."""
    return programme.current_version or programme.latest_version


# --- eligibility checks -----------------------------------------------------------------------


def check_eligibility(site: Site, *, actor: User, checked_on: date) -> EligibilityCheck:
    """Run the programme's criteria and move the site to eligible or not eligible."""
    if not policies.can_prepare_sites(actor, site.programme):
        raise NotAllowed("Only the programme's coordinator can check sites.")
    if site.status not in CHECKABLE_STATUSES:
        raise RuleViolation(
            f"{site.reference} is {site.status.label} and cannot be checked again.", code="site_not_checkable"
        )
    version = design_for_checks(site.programme)
    criteria = eligibility.criteria_from_data(version.eligibility_criteria)
    report = eligibility.assess(
        _candidate(site, version), criteria, boundary=_boundary(version), checked_on=checked_on
    )
    outcome = (
        CheckOutcome.eligible
        if report.eligible
        else CheckOutcome.needs_review
        if report.needs_review
        else CheckOutcome.not_eligible
    )
    check = EligibilityCheck(
        site=site,
        programme_version_id=version.id,
        checked_on=checked_on,
        checked_by_id=actor.id,
        outcome=outcome,
        criteria=list(version.eligibility_criteria),
        results=[
            {
                "code": r.code,
                "description": r.description,
                "kind": r.kind.value,
                "outcome": r.outcome.value,
                "observed": r.observed,
                "reason": r.reason,
            }
            for r in report.results
        ],
    )
    db.session.add(check)
    site.status = SiteStatus.eligible if report.eligible else SiteStatus.not_eligible
    site.checked_against_version_id = version.id
    db.session.flush()
    audit.record(
        "site.eligibility_checked",
        actor=actor,
        entity_type="site",
        entity_id=site.id,
        data={
            "outcome": outcome,
            "version": version.number,
            "failed": [r.code for r in report.results if r.outcome is not eligibility.Outcome.passed],
        },
    )
    return check


def eligibility_checks(site: Site) -> list[EligibilityCheck]:
    """The site's checks, newest first (the site was already fetched through its visibility scope)."""
    return list(db.session.scalars(site.eligibility_checks.select().order_by(EligibilityCheck.id.desc())))


def latest_check(site: Site) -> EligibilityCheck | None:
    query = site.eligibility_checks.select().order_by(EligibilityCheck.id.desc()).limit(1)
    return db.session.scalar(query)


def _boundary(version: ProgrammeVersion) -> eligibility.Boundary | None:
    boundary = version.boundary or {}
    if "geojson" in boundary:
        return eligibility.Boundary.from_geojson(boundary["geojson"])
    if boundary.get("codes"):
        return eligibility.Boundary.from_codes(boundary["codes"])
    return None


def _candidate(site: Site, version: ProgrammeVersion) -> eligibility.Candidate:
    """The site's facts as the pure criteria see them, with the guard's findings attached."""
    area = site.area_code or ""
    attributes = site.attributes or {}
    # Only explicit yes/no answers count: anything else is unanswered and needs review.
    applicability = {
        str(code): answer
        for code, answer in (attributes.get("applicability") or {}).items()
        if isinstance(answer, bool)
    }
    return eligibility.Candidate(
        reference=site.reference,
        location=Point(site.latitude, site.longitude)
        if site.latitude is not None and site.longitude is not None
        else None,
        country_code=area[:2] if area else site.programme.host_country,
        admin_code=area if "-" in area else None,
        technology=site.technology,
        capacity_kw=site.capacity_kw,
        commissioned_on=site.commissioned_on,
        meters=tuple(
            eligibility.MeterFacts(m.serial, m.accuracy_class, m.calibrated_on, m.calibration_valid_until)
            for m in site.meters
        ),
        equipment_serials=tuple(site.equipment_serials),
        document_kinds=frozenset(site.documents),
        equipment_models=tuple(attributes.get("equipment_models") or ()),
        declarations=eligibility.Declarations(
            public_support=site.financial_support_declared,
            funding_sources=tuple(s.strip() for s in (site.funding_sources or "").split(",") if s.strip()),
            oda_not_diverted=attributes.get("oda_not_diverted")
            if isinstance(attributes.get("oda_not_diverted"), bool)
            else None,
        ),
        applicability_answers=applicability,
        conflicts=tuple(guard.find_conflicts(site, nearby_radius_m=_radius(version, "no_double_counting"))),
        related_activities=tuple(guard.related_activities(site, radius_m=_radius(version, "debundling"))),
    )


def _radius(version: ProgrammeVersion, kind: str) -> int:
    """How far the guard looks: the widest radius any criterion of that kind asks about."""
    parameter = {"no_double_counting": "nearby_radius_m", "debundling": "radius_m"}[kind]
    radii = []
    for criterion in eligibility.criteria_from_data(version.eligibility_criteria):
        if criterion.kind.value == kind:
            try:
                radii.append(math.ceil(eligibility.effective_params(criterion)[parameter]))
            except ValueError:
                continue  # a misconfigured criterion is reported by assess as needing review
    default = {"no_double_counting": guard.NEARBY_RADIUS_M, "debundling": guard.DEBUNDLING_RADIUS_M}[kind]
    return max(radii, default=default)


# --- inclusion ----------------------------------------------------------------------------------


def include_sites(
    programme: Programme,
    *,
    actor: User,
    site_ids: Sequence[int],
    included_on: date,
    crediting_start: date | None = None,
) -> list[Site]:
    """Include eligible sites, one or a batch, all or none.

    Each site is re-checked against the guard at this moment and its serials are claimed, so two
    concurrent inclusions of the same meter cannot both succeed. Depending on the programme's
    inclusion route, a site is included now or waits for a verifier's confirmation.
    """
    if not policies.can_include(actor, programme):
        raise NotAllowed("Only the programme's coordinator can include sites.")
    version = programme.current_version
    if version is None:
        raise RuleViolation(
            "Sites are included only in a registered programme.", code="programme_not_registered"
        )
    if programme.inclusion_hold:
        raise RuleViolation(f"Inclusions are on hold: {programme.hold_reason}", code="inclusion_hold")
    sites = _sites_of(programme, site_ids)
    problems = {site.reference: _inclusion_problems(site, version) for site in sites}
    problems = {reference: found for reference, found in problems.items() if found}
    if problems:
        raise RuleViolation("Some sites cannot be included.", code="not_includable", errors=problems)
    included = []
    orders = _included_per_technology(programme.id)  # counted once, not once per site of a batch
    for site in sites:
        guard.claim_identifiers(site)
        site.inclusion_requested_by_id = actor.id
        if _needs_confirmation(programme, version, site):
            site.status = SiteStatus.awaiting_confirmation
            action = "site.inclusion_requested"
        else:
            orders[site.technology] += 1
            _include(
                site,
                version,
                included_on=included_on,
                crediting_start=crediting_start,
                actor=actor,
                replication_order=orders[site.technology],
            )
            action = "site.included"
        db.session.flush()
        audit.record(action, actor=actor, entity_type="site", entity_id=site.id, data=_inclusion_record(site))
        included.append(site)
    return included


def _sites_of(programme: Programme, site_ids: Sequence[int]) -> list[Site]:
    if not site_ids:
        raise InvalidInput("Choose at least one site.", errors={"site_ids": ["Choose at least one site."]})
    sites = list(
        db.session.scalars(
            sa.select(Site)
            .where(Site.programme_id == programme.id, Site.id.in_(site_ids))
            .order_by(Site.reference)
        )
    )
    if len(sites) != len(set(site_ids)):
        raise InvalidInput("Some sites are not in this programme.", errors={"site_ids": ["Unknown sites."]})
    return sites


def _inclusion_problems(site: Site, version: ProgrammeVersion) -> list[str]:
    if site.status is not SiteStatus.eligible:
        return [f"it is {site.status.label}, not eligible"]
    if site.checked_against_version_id != version.id:
        return [f"it was checked against another design version; check it against version {version.number}"]
    conflicts = guard.find_conflicts(site, nearby_radius_m=_radius(version, "no_double_counting"))
    return [f"double counting: {conflict.describe()}" for conflict in conflicts]


def _needs_confirmation(programme: Programme, version: ProgrammeVersion, site: Site) -> bool:
    route = version.inclusion_route
    if route is rules.InclusionRoute.coordinator:
        return False
    if route is rules.InclusionRoute.verifier_confirms:
        return True
    # Gold Standard: once a VPA of the same technology passed verification, the CME includes
    # directly (domain.md §6.1 [C]); a positive verification statement sets last_verified_on.
    verified = (
        sa.select(Site.id)
        .where(
            Site.programme_id == programme.id,
            Site.technology == site.technology,
            Site.last_verified_on.is_not(None),
            Site.status.in_(LIVE_STATUSES),
        )
        .limit(1)
    )
    return db.session.scalar(verified) is None


def _included_per_technology(programme_id: int) -> Counter:
    """How many sites of each technology the programme has included so far (domain.md §4.5 tiers)."""
    rows = db.session.execute(
        sa.select(Site.technology, sa.func.count())
        .where(Site.programme_id == programme_id, Site.included_on.is_not(None))
        .group_by(Site.technology)
    )
    return Counter(dict(rows.all()))


def _include(
    site: Site,
    version: ProgrammeVersion,
    *,
    included_on: date,
    crediting_start: date | None,
    actor: User,
    replication_order: int,
) -> None:
    """Fix the inclusion date, the crediting period and the support tier (domain.md §1.7, §4.5)."""
    if version.start_date is None or version.duration_years is None:
        raise RuleViolation("The programme design has no start date or duration.", code="design_incomplete")
    try:
        period = rules.first_crediting_period(
            requested_start=crediting_start or included_on,
            included_on=included_on,
            period_type=version.crediting_period_type,
            period_years=version.crediting_period_years,
            max_renewals=version.max_renewals,
            programme_ends_on=rules.programme_end(version.start_date, version.duration_years),
        )
    except ValueError as error:
        raise InvalidInput(f"{site.reference}: {error}.", errors={"crediting_start": [str(error)]}) from error
    tiers = (
        tuple((int(first), Decimal(rate)) for first, rate in version.support_tiers)
        or rules.DEFAULT_SUPPORT_TIERS
    )
    site.included_on, site.included_by_id = included_on, actor.id
    site.crediting_start, site.crediting_end, site.renewals_left = (
        period.start,
        period.end,
        period.renewals_left,
    )
    site.replication_order = replication_order
    site.support_rate = rules.support_rate(replication_order, tiers)
    site.status = SiteStatus.included  # advance_crediting moves it on when the period starts


def _inclusion_record(site: Site) -> dict[str, Any]:
    return {
        "status": site.status,
        "included_on": site.included_on,
        "crediting_start": site.crediting_start,
        "crediting_end": site.crediting_end,
        "replication_order": site.replication_order,
        "support_rate": site.support_rate,
        "checked_against_version_id": site.checked_against_version_id,
    }


def confirm_inclusion(site: Site, *, actor: User, included_on: date) -> Site:
    """The verifier confirms a requested inclusion (CDM DOE, Verra VVB at verification, JCM TPE)."""
    if not policies.can_confirm_inclusion(actor, site.programme):
        raise NotAllowed("Only the programme's verifier can confirm inclusions.")
    if site.status is not SiteStatus.awaiting_confirmation:
        raise RuleViolation(
            f"{site.reference} is {site.status.label}, not awaiting confirmation.", code="wrong_state"
        )
    if site.programme.inclusion_hold:
        raise RuleViolation(f"Inclusions are on hold: {site.programme.hold_reason}", code="inclusion_hold")
    if actor.id == site.inclusion_requested_by_id:
        raise RuleViolation("You requested this inclusion, so you cannot confirm it.", code="maker_checker")
    order = _included_per_technology(site.programme_id)[site.technology] + 1
    _include(
        site,
        site.programme.current_version,
        included_on=included_on,
        crediting_start=None,
        actor=actor,
        replication_order=order,
    )
    site.inclusion_confirmed_by_id = actor.id
    audit.record(
        "site.included",
        actor=actor,
        entity_type="site",
        entity_id=site.id,
        data={**_inclusion_record(site), "confirmed_by_verifier": True},
    )
    return site


def return_inclusion(site: Site, *, actor: User, reason: str) -> Site:
    """The verifier sends a requested inclusion back; the site returns to draft (domain.md §1.10)."""
    if not policies.can_confirm_inclusion(actor, site.programme):
        raise NotAllowed("Only the programme's verifier can return inclusions.")
    if site.status is not SiteStatus.awaiting_confirmation:
        raise RuleViolation(f"{site.reference} is not awaiting confirmation.", code="wrong_state")
    _require_reason(reason)
    guard.release_identifiers(site)
    site.status, site.review_reason = SiteStatus.draft, reason.strip()
    audit.record(
        "site.inclusion_returned",
        actor=actor,
        entity_type="site",
        entity_id=site.id,
        data={"reason": reason.strip()},
    )
    return site


# --- after inclusion ----------------------------------------------------------------------------


def put_under_review(site: Site, *, actor: User, reason: str) -> Site:
    """An error that may disqualify the site was notified: the programme stops inclusions and issuance."""
    if not policies.can_review(actor, site.programme):
        raise NotAllowed("Only the programme's registry administrator can put a site under review.")
    if site.status not in LIVE_STATUSES | {SiteStatus.crediting_ended}:
        raise RuleViolation(
            f"{site.reference} is {site.status.label}; only included sites are reviewed.", code="wrong_state"
        )
    _require_reason(reason)
    site.status, site.review_reason = SiteStatus.under_review, reason.strip()
    programme_services.set_holds(
        site.programme,
        actor=actor,
        inclusion_hold=True,
        issuance_hold=True,
        reason=f"{site.reference} under review: {reason.strip()}",
    )
    audit.record(
        "site.put_under_review",
        actor=actor,
        entity_type="site",
        entity_id=site.id,
        data={"reason": reason.strip()},
    )
    return site


def clear_review(site: Site, *, actor: User, today: date) -> Site:
    """The review found no error: the site credits again; holds lift when no other site is in review."""
    if not policies.can_review(actor, site.programme):
        raise NotAllowed("Only the programme's registry administrator can clear a review.")
    if site.status is not SiteStatus.under_review:
        raise RuleViolation(f"{site.reference} is not under review.", code="wrong_state")
    site.status = (
        SiteStatus.crediting
        if site.crediting_start and site.crediting_start <= today
        else SiteStatus.included
    )
    site.review_reason = None
    db.session.flush()
    _lift_holds_if_clear(site.programme, actor)
    audit.record("site.review_cleared", actor=actor, entity_type="site", entity_id=site.id)
    return site


def exclude_site(site: Site, *, actor: User, reason: str, credits_to_replace: int = 0) -> Site:
    """Exclude for good (domain.md §1.9): never re-includable here or anywhere; its serials stay claimed.

    The credits issued because of the site are recorded for replacement; the registry fills this in
    once it issues credits.
    """
    if not policies.can_review(actor, site.programme):
        raise NotAllowed("Only the programme's registry administrator can exclude a site.")
    if site.status is not SiteStatus.under_review:
        raise RuleViolation(
            f"{site.reference} must be under review before it is excluded.", code="wrong_state"
        )
    _require_reason(reason)
    if credits_to_replace < 0:
        raise InvalidInput("Credits cannot be negative.", errors={"credits_to_replace": ["Zero or more."]})
    site.status, site.review_reason, site.credits_to_replace = (
        SiteStatus.excluded,
        reason.strip(),
        credits_to_replace,
    )
    audit.record(
        "site.excluded",
        actor=actor,
        entity_type="site",
        entity_id=site.id,
        data={"reason": reason.strip(), "credits_to_replace": credits_to_replace},
    )
    return site


def withdraw_site(site: Site, *, actor: User, reason: str) -> Site:
    """The coordinator withdraws a site; its serials are free again (exact CDM procedure [U])."""
    if not policies.can_prepare_sites(actor, site.programme):
        raise NotAllowed("Only the programme's coordinator can withdraw sites.")
    if site.status in (SiteStatus.excluded, SiteStatus.under_review, SiteStatus.withdrawn):
        raise RuleViolation(
            f"{site.reference} is {site.status.label} and cannot be withdrawn.", code="wrong_state"
        )
    _require_reason(reason)
    guard.release_identifiers(site)
    site.status, site.review_reason = SiteStatus.withdrawn, reason.strip()
    audit.record(
        "site.withdrawn", actor=actor, entity_type="site", entity_id=site.id, data={"reason": reason.strip()}
    )
    return site


def _lift_holds_if_clear(programme: Programme, actor: User) -> None:
    still_reviewed = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Site)
        .where(Site.programme_id == programme.id, Site.status == SiteStatus.under_review)
    )
    if not still_reviewed and (programme.inclusion_hold or programme.issuance_hold):
        programme_services.set_holds(
            programme, actor=actor, inclusion_hold=False, issuance_hold=False, reason=None
        )


def _require_reason(reason: str) -> None:
    if not (reason or "").strip():
        raise InvalidInput("Give a reason.", errors={"reason": ["Give a reason."]})


def advance_crediting(*, today: date) -> dict[str, int]:
    """Move sites into and out of their crediting periods (run daily: `flask poa advance-crediting`)."""
    started = db.session.execute(
        sa.update(Site)
        .where(Site.status == SiteStatus.included, Site.crediting_start <= today)
        .values(status=SiteStatus.crediting)
    ).rowcount
    ended = db.session.execute(
        sa.update(Site)
        .where(Site.status == SiteStatus.crediting, Site.crediting_end < today)
        .values(status=SiteStatus.crediting_ended)
    ).rowcount
    if started or ended:
        audit.record(
            "sites.crediting_advanced",
            actor=None,
            entity_type="site",
            entity_id=None,
            data={"today": today, "started": started, "ended": ended},
        )
    return {"started": started, "ended": ended}


def renew_crediting_period(site: Site, *, actor: User, renewed_on: date) -> Site:
    """Start the next renewable crediting period right after the current one (domain.md §1.7).

    At most the programme's number of renewals, never past the programme end; the CDM PoA
    standard has the site take on the registered design in force at its renewal.
    """
    if not policies.can_include(actor, site.programme):
        raise NotAllowed("Only the programme's coordinator can renew crediting periods.")
    if site.status not in (SiteStatus.crediting, SiteStatus.crediting_ended) or site.crediting_end is None:
        raise RuleViolation(
            f"{site.reference} is {site.status.label}; only crediting sites renew.", code="wrong_state"
        )
    if not site.renewals_left:
        raise RuleViolation(f"{site.reference} has no renewal left.", code="no_renewal_left")
    version = site.programme.current_version
    start = site.crediting_end + timedelta(days=1)
    try:
        period = rules.first_crediting_period(
            requested_start=start,
            included_on=site.included_on or start,
            period_type=version.crediting_period_type,
            period_years=version.crediting_period_years,
            max_renewals=version.max_renewals,
            programme_ends_on=rules.programme_end(version.start_date, version.duration_years),
        )
    except ValueError as error:
        raise RuleViolation(f"{site.reference}: {error}.", code="programme_ends") from error
    before = {
        "crediting_start": site.crediting_start,
        "crediting_end": site.crediting_end,
        "renewals_left": site.renewals_left,
    }
    site.crediting_start, site.crediting_end = period.start, period.end
    site.renewals_left -= 1
    site.status = SiteStatus.crediting if period.start <= renewed_on else site.status
    audit.record(
        "site.crediting_renewed",
        actor=actor,
        entity_type="site",
        entity_id=site.id,
        before=before,
        after={
            "crediting_start": period.start,
            "crediting_end": period.end,
            "renewals_left": site.renewals_left,
            "design_version": version.number,
        },
    )
    return site
