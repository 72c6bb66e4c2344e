"""Registry statistics behind the charts and the API: credits per vintage from the append-only
ledger, and a host Party's issued credits over time split by Article 6.2 authorization status
(domain.md §5). Quantities are summed in SQL (whole credits); shapes in registry/charts.py."""

import re
from datetime import date

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.database import db
from poa_manager.errors import InvalidInput, NotAllowed
from poa_manager.programmes import services as programme_services
from poa_manager.programmes.models import Programme
from poa_manager.programmes.policies import visible_programmes
from poa_manager.registry import charts, policies
from poa_manager.registry.models import (
    Article6Action,
    Article6ActionType,
    Authorization,
    CorrespondingAdjustment,
    LedgerEntry,
    LedgerKind,
)


def credits_by_vintage(*, actor: User, programme_id: int | None = None) -> list[charts.VintageTotals]:
    """Credits issued, transferred, retired and cancelled per vintage, over the programmes the
    actor takes part in (every programme for platform admins), or one of them."""
    query = (
        sa.select(LedgerEntry.vintage, LedgerEntry.kind, sa.func.sum(LedgerEntry.quantity))
        .where(LedgerEntry.kind.in_([LedgerKind(k) for k in charts.VINTAGE_KINDS]))
        .group_by(LedgerEntry.vintage, LedgerEntry.kind)
    )
    if programme_id is not None:
        programme = programme_services.get_programme(programme_id, actor=actor)  # NotFound if not visible
        query = query.where(LedgerEntry.programme_id == programme.id)
    else:
        programmes = visible_programmes(actor).with_only_columns(Programme.id).order_by(None)
        query = query.where(LedgerEntry.programme_id.in_(programmes))
    return charts.by_vintage(
        (vintage, kind.value, total) for vintage, kind, total in db.session.execute(query)
    )


def _month(column) -> sa.ColumnElement[str]:
    """YYYY-MM of a UTC timestamp, in the database (the engines spell it differently)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def _monthly(query: sa.Select, quantity, instant) -> dict[str, int]:
    month = _month(instant)
    rows = db.session.execute(query.with_only_columns(month, sa.func.sum(quantity)).group_by(month))
    return {m: int(total) for m, total in rows if m is not None}


def ndc_contribution(host_country: str, *, actor: User, today: date) -> list[charts.NdcMonth]:
    """Month by month, the cumulative credits issued for activities in `host_country` (programmes
    hosted there), split into first transferred (corresponding adjustment applied), authorized
    but not first transferred, and not authorized; with the cumulative NDC-use retirements.

    Sources, all append-only: issuance ledger entries (when issued), authorization actions (when
    the host applied its authorization to the units), corresponding adjustments (when the units
    first transferred) and use_ndc actions (when retired for NDC use).
    """
    country = (host_country or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise InvalidInput(
            "A two-letter country code.", errors={"host_country": ["ISO 3166-1 alpha-2, e.g. VN."]}
        )
    if not policies.can_view_ndc_contribution(actor, country):
        raise NotAllowed(f"Only {country}'s government and the registry administrators see its NDC figures.")
    hosted = sa.select(Programme.id).where(Programme.host_country == country)
    issued = _monthly(
        sa.select(LedgerEntry).where(
            LedgerEntry.kind == LedgerKind.issuance, LedgerEntry.programme_id.in_(hosted)
        ),
        LedgerEntry.quantity,
        LedgerEntry.recorded_at,
    )

    def actions(kind: Article6ActionType) -> dict[str, int]:
        return _monthly(
            sa.select(Article6Action).where(
                Article6Action.action_type == kind, Article6Action.programme_id.in_(hosted)
            ),
            Article6Action.quantity,
            Article6Action.occurred_at,
        )

    adjusted = _monthly(
        sa.select(CorrespondingAdjustment)
        .join(Authorization, Authorization.id == CorrespondingAdjustment.authorization_id)
        .where(Authorization.programme_id.in_(hosted)),
        CorrespondingAdjustment.quantity,
        CorrespondingAdjustment.recorded_at,
    )
    return charts.ndc_contribution(
        issued=issued,
        authorized=actions(Article6ActionType.authorization),
        first_transferred=adjusted,
        used_ndc=actions(Article6ActionType.use_ndc),
        through=charts.month_of(today),
    )


def ndc_countries(*, actor: User) -> list[str]:
    """Host countries whose NDC chart the actor may see: the hosts of every programme for platform
    and registry administrators, the own country for a host government's people."""
    candidates = set(db.session.scalars(sa.select(Programme.host_country).distinct()))
    own = (actor.organisation.country_code or "").upper()
    if own:
        candidates.add(own)
    return sorted(c.upper() for c in candidates if policies.can_view_ndc_contribution(actor, c))
