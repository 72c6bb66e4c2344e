"""Shared by the verification tests and the browser journey: a many-site issuance request made
quickly, and the hand calculation of a stratified sample's correction (Cochran §6.11).

The request is made by the real `request_issuance` from a submitted monitoring report whose lines
are written directly: verification reads the request's lines, not the readings behind them (the
monitoring tests cover those), and a 1,000-site request would otherwise need a million readings.
"""

import math
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from poa_manager.database import db, utcnow
from poa_manager.monitoring import services as monitoring_services
from poa_manager.monitoring.models import IssuanceRequest, MonitoringLine, MonitoringReport, ReportStatus
from poa_manager.sites.models import Site, SiteStatus

PERIOD = (date(2025, 1, 1), date(2025, 6, 30))
Z90 = 1.6448536269514722  # the two-sided 90 % normal quantile


def claims_of(n: int) -> list[Decimal]:
    """Claims that vary between sites (100.5 to 160.5 tCO2e), so the sample has spread."""
    return [Decimal(100) + Decimal(i % 7) * 10 + Decimal("0.5") for i in range(n)]


def submitted_request(
    programme, coordinator, claims: list[Decimal], *, facts: list[dict] | None = None
) -> IssuanceRequest:
    """An issuance request over new sites claiming `claims` (tCO2e), with `facts[i]` per site."""
    number = 1 + len(
        db.session.scalars(
            db.select(MonitoringReport.id).where(MonitoringReport.programme_id == programme.id)
        ).all()
    )
    report = MonitoringReport(
        programme=programme,
        number=number,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        status=ReportStatus.submitted,
        submitted_at=utcnow(),
        submitted_by_id=coordinator.id,
    )
    defaults = {
        "status": SiteStatus.crediting,
        "technology": "solar_pv",
        "capacity_kw": Decimal(500),
        "documents": ["cpa_dd", "grid_connection_certificate"],
        "crediting_start": PERIOD[0],
    }
    first = sum(1 for site in programme.sites if site.reference.startswith("CPA-"))  # CPA-0001 on
    sites = [
        Site(
            programme=programme,
            reference=f"CPA-{first + i + 1:04d}",
            name=f"Rooftop {first + i + 1}",
            **{**defaults, **(facts[i] if facts else {})},
        )
        for i in range(len(claims))
    ]
    db.session.add_all(sites)
    db.session.flush()
    report.lines = [
        MonitoringLine(
            site_id=site.id,
            site_reference=site.reference,
            window_start=PERIOD[0],
            window_end=PERIOD[1],
            vintage=2025,
            window_from=0,
            window_until=1,
            emission_reductions_tco2e=claim,
        )
        for site, claim in zip(sites, claims, strict=True)
    ]
    report.total_tco2e = sum(claims, Decimal(0))
    db.session.add(report)
    db.session.flush()
    return monitoring_services.request_issuance(report, actor=coordinator)


@dataclass(frozen=True)
class HandCorrection:
    ratio: Fraction  # the combined ratio R, exactly
    precision: float  # z·SE(R)/R
    applied_ratio: Decimal | None  # R floored to 6 places when the 10 % target is met, else None
    verified_tco2e: Decimal | None
    credits: int | None


def correct_by_hand(
    sampled: list[tuple[str, Decimal, Decimal]], stratum_sizes: dict[str, int], claimed_total: Decimal
) -> HandCorrection:
    """The combined ratio estimate of (stratum, claimed, verified) findings, worked out in fractions.

    R = Σ N_h·v̄_h / Σ N_h·c̄_h; Var(R) = (1/X̄²)·Σ W_h²·(1 − n_h/N_h)·s²_dh/n_h with d = v − R·c and
    X̄ = Σ W_h·c̄_h (Cochran, Sampling Techniques, §6.11); precision z·SE/R at 90 % confidence.
    """
    population = sum(stratum_sizes.values())
    by_h = {h: [(Fraction(c), Fraction(v)) for s, c, v in sampled if s == h] for h in stratum_sizes}
    num = sum(n_h * _mean([v for _c, v in by_h[h]]) for h, n_h in stratum_sizes.items())
    den = sum(n_h * _mean([c for c, _v in by_h[h]]) for h, n_h in stratum_sizes.items())
    ratio = num / den
    var = Fraction(0)
    for h, group in by_h.items():
        d = [v - ratio * c for c, v in group]
        d_mean = sum(d) / len(d)
        s2 = sum((x - d_mean) ** 2 for x in d) / (len(d) - 1)
        weight = Fraction(stratum_sizes[h], population)
        var += weight**2 * (1 - Fraction(len(group), stratum_sizes[h])) * s2 / len(group)
    precision = Z90 * math.sqrt(var / (den / population) ** 2) / float(ratio)
    if precision > 0.10:
        return HandCorrection(ratio, precision, None, None, None)
    applied = (Decimal(ratio.numerator) / Decimal(ratio.denominator)).quantize(
        Decimal("0.000001"), rounding=ROUND_FLOOR
    )
    verified = claimed_total * applied
    return HandCorrection(
        ratio, precision, applied, verified, int(verified.to_integral_value(rounding=ROUND_FLOOR))
    )


def _mean(values: list[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def verified_request(
    programme, coordinator, auditor, reviewer, claims: list[Decimal], **facts
) -> IssuanceRequest:
    """An issuance request carried through the real verification services with every sampled site
    conforming, so its positive statement verifies exactly the claimed total (rounded down once)."""
    from poa_manager.verification import services as verification_services
    from poa_manager.verification.models import CheckMethod, FindingOutcome, Opinion

    request = submitted_request(programme, coordinator, claims, facts=facts.get("facts"))
    verification = verification_services.assign_verifier(
        request, actor=coordinator, organisation_id=auditor.organisation_id, team_user_ids=[auditor.id]
    )
    verification_services.draw(verification, actor=auditor, plan=verification_services.PlanInput(), seed=7)
    for entry in db.session.scalars(verification_services.frame_entries(verification, sampled_only=True)):
        verification_services.record_finding(
            verification,
            actor=auditor,
            site_id=entry.site_id,
            verified_tco2e=entry.claimed_tco2e,
            outcome=FindingOutcome.conforming,
            method=CheckMethod.remote,
            evidence="Readings agree with invoices.",
        )
    verification_services.draft_statement(
        verification, actor=auditor, opinion=Opinion.positive, summary="Fine."
    )
    verification_services.approve_statement(verification, actor=reviewer)
    return request
