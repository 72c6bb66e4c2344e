"""Use cases for the CADT export: programmes (projects) with their sites (locations) and issuances,
and their credit blocks (units), limited to the programmes the actor may see (peers.md §C)."""

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from poa_manager.accounts.models import User
from poa_manager.database import db, one_or_not_found
from poa_manager.interop import cadt, policies
from poa_manager.methodologies import UnknownMethodology, get_methodology
from poa_manager.monitoring.exports import safe_text
from poa_manager.programmes.models import Programme, ProgrammeVersion
from poa_manager.registry import services as registry_services
from poa_manager.registry.models import (
    Account,
    Authorization,
    BlockStatus,
    CreditBlock,
    Issuance,
    Transaction,
    TransactionKind,
    TransactionStatus,
)
from poa_manager.sites.models import Site, SiteStatus

ENTITIES = ("projects", "locations", "issuances", "units")


@dataclass(frozen=True)
class Links:
    """Absolute URLs the records point to; the web layer builds them (services know no routes)."""

    project: Callable[[Programme], str]
    unit: Callable[[str], str]  # a serial → where anyone can look it up


def exportable_programmes(actor: User, *, programme_id: int | None = None) -> sa.Select[tuple[Programme]]:
    """The programmes the actor may export: those they may see, or one of them."""
    query = policies.exportable_programmes(actor)
    return query if programme_id is None else query.where(Programme.id == programme_id)


def get_exportable_programme(programme_id: int, *, actor: User) -> Programme:
    return one_or_not_found(
        exportable_programmes(actor, programme_id=programme_id), f"No programme {programme_id}."
    )


def exportable_units(actor: User, *, programme_id: int | None = None) -> sa.Select[tuple[CreditBlock]]:
    """Credit blocks of the exportable programmes, by programme, vintage and serial."""
    programmes = exportable_programmes(actor, programme_id=programme_id).with_only_columns(Programme.id)
    return (
        sa.select(CreditBlock)
        .where(CreditBlock.programme_id.in_(programmes.order_by(None)))
        .options(
            selectinload(CreditBlock.programme),
            selectinload(CreditBlock.site),
            selectinload(CreditBlock.issuance),
            selectinload(CreditBlock.account).selectinload(Account.organisation),
        )
        .order_by(CreditBlock.programme_id, CreditBlock.vintage, CreditBlock.serial_start)
    )


def project_records(programmes: Sequence[Programme], *, registry: str, links: Links) -> list[dict[str, Any]]:
    """CADT project records, each with its locations (included sites) and issuances."""
    records = []
    for programme in programmes:
        sites = _included_sites(programme)
        records.append(
            cadt.project_record(
                _project_facts(programme, sites, registry=registry, links=links),
                locations=[_location_facts(site) for site in sites],
                issuances=[_issuance_facts(issuance) for issuance in _issuances(programme)],
            )
        )
    return records


def unit_records(blocks: Sequence[CreditBlock], *, links: Links) -> list[dict[str, Any]]:
    """CADT unit records: one per credit block, with its holder, status and adjustment state."""
    reasons = _status_reasons([block.id for block in blocks if block.status is not BlockStatus.active])
    return [
        cadt.unit_record(_unit_facts(block, links=links, reason=reasons.get(block.id))) for block in blocks
    ]


def cadt_export(
    actor: User, *, registry: str, links: Links, programme_id: int | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every project and unit the actor may export (or one programme's): {"projects", "units"}."""
    programmes = db.session.scalars(exportable_programmes(actor, programme_id=programme_id)).all()
    blocks = db.session.scalars(exportable_units(actor, programme_id=programme_id)).all()
    return {
        "projects": project_records(programmes, registry=registry, links=links),
        "units": unit_records(blocks, links=links),
    }


def cadt_csv(export: dict[str, list[dict[str, Any]]], entity: str) -> bytes:
    """One entity of an export as CSV with CADT's column names; text cells formula-safe.
    Locations and issuances carry their project's originProjectId, as they are flattened."""
    if entity == "projects":
        columns, records = cadt.PROJECT_FIELDS, export["projects"]
    elif entity in ("locations", "issuances"):
        key = "projectLocations" if entity == "locations" else "issuances"
        fields = cadt.LOCATION_FIELDS if entity == "locations" else cadt.ISSUANCE_FIELDS
        columns = ("originProjectId", *fields)
        records = [
            {"originProjectId": project["originProjectId"], **child}
            for project in export["projects"]
            for child in project[key]
        ]
    elif entity == "units":
        columns, records = cadt.UNIT_FIELDS, export["units"]
    else:
        raise ValueError(f"unknown CADT entity {entity!r}; one of {', '.join(ENTITIES)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in cadt.flat_rows(records, columns):
        writer.writerow([safe_text(value) for value in row])
    return buffer.getvalue().encode()


# --- From rows to facts --------------------------------------------------------------------------


def _design(programme: Programme) -> ProgrammeVersion | None:
    """The registered design, or the latest draft before registration."""
    return programme.current_version or (programme.latest_version if programme.versions else None)


def _project_facts(
    programme: Programme, sites: list[Site], *, registry: str, links: Links
) -> cadt.ProjectFacts:
    design = _design(programme)
    code = design.methodology_code if design else None
    try:
        methodology = get_methodology(code) if code else None
    except UnknownMethodology:
        methodology = None
    status_at = None
    if design is not None:
        status_at = design.registered_at or design.validated_at or design.submitted_at or design.created_at
    authorizations = db.session.scalars(
        sa.select(Authorization).where(Authorization.programme_id == programme.id).order_by(Authorization.id)
    )
    return cadt.ProjectFacts(
        reference=programme.reference,
        title=programme.title,
        programme_label=programme.mechanism.label,
        link=links.project(programme),
        developer=programme.coordinating_entity.name,
        status=programme.status.value,
        status_date=status_at.date() if status_at else None,
        registry=registry,
        sectoral_scopes=methodology.sectoral_scopes if methodology else (),
        methodology_code=code,
        methodology_version=(design.methodology_version if design else None)
        or (methodology.version if methodology else None),
        methodology_title=methodology.title if methodology else None,
        validation_body=(
            design.validated_by_organisation.name if design and design.validated_by_organisation else None
        ),
        validation_date=design.validated_at.date() if design and design.validated_at else None,
        technologies=tuple(sorted({site.technology for site in sites if site.technology})),
        authorizations=tuple(f"{a.label} ({a.cooperative_approach})" for a in authorizations),
    )


# Sites that are, or were, part of the programme; drafts and refused candidates are not.
_INCLUDED = frozenset(
    {
        SiteStatus.included,
        SiteStatus.crediting,
        SiteStatus.crediting_ended,
        SiteStatus.under_review,
        SiteStatus.excluded,
    }
)


def _included_sites(programme: Programme) -> list[Site]:
    """[U] The project locations: sites included at some point (excluded ones keep their issued
    units), and any site that holds units."""
    with_units = set(
        db.session.scalars(
            sa.select(CreditBlock.site_id).where(CreditBlock.programme_id == programme.id).distinct()
        )
    )
    return [
        site
        for site in programme.sites
        if site.status in _INCLUDED or site.included_on is not None or site.id in with_units
    ]


def _location_facts(site: Site) -> cadt.LocationFacts:
    return cadt.LocationFacts(
        programme_reference=site.programme.reference,
        site_reference=site.reference,
        country_code=site.programme.host_country,
        area_code=site.area_code,
        latitude=site.latitude,
        longitude=site.longitude,
    )


def _issuances(programme: Programme) -> list[Issuance]:
    return list(
        db.session.scalars(
            sa.select(Issuance).where(Issuance.programme_id == programme.id).order_by(Issuance.id)
        )
    )


def _issuance_facts(issuance: Issuance) -> cadt.IssuanceFacts:
    request = issuance.request
    verification = registry_services.positive_verification(request)
    return cadt.IssuanceFacts(
        label=issuance.label,
        period_start=request.report.period_start,
        period_end=request.report.period_end,
        verification_body=verification.verifier_organisation.name if verification else None,
        verification_report_date=(
            verification.approved_at.date() if verification and verification.approved_at else None
        ),
        sample_size=verification.sample_size if verification else None,
        population=len({line.site_id for line in request.lines}),
    )


def _status_reasons(block_ids: list[int]) -> dict[int, str]:
    """Why each retired or cancelled block ended: the completed transaction's beneficiary and
    purpose (the last one, if a block was split and moved more than once)."""
    if not block_ids:
        return {}
    transactions = db.session.scalars(
        sa.select(Transaction)
        .where(
            Transaction.block_id.in_(block_ids),
            Transaction.status == TransactionStatus.completed,
            Transaction.kind.in_((TransactionKind.retirement, TransactionKind.cancellation)),
        )
        .order_by(Transaction.id)
    )
    reasons = {}
    for transaction in transactions:
        parts = [transaction.label]
        if transaction.beneficiary:
            parts.append(f"for {transaction.beneficiary}")
        if transaction.using_entity:
            parts.append(f"used by {transaction.using_entity}")
        if transaction.purpose:
            parts.append(f"— {transaction.purpose}")
        reasons[transaction.block_id] = " ".join(parts)
    return reasons


def _unit_facts(block: CreditBlock, *, links: Links, reason: str | None) -> cadt.UnitFacts:
    owner = block.account.organisation
    if reason is None and block.status is BlockStatus.cancelled:
        reason = "Cancelled at forwarding (allocation table: share of proceeds or OMGE)"  # [U]
    serial = block.serial
    return cadt.UnitFacts(
        programme_reference=block.programme.reference,
        site_reference=block.site.reference,
        issuance_label=block.issuance.label,
        serial=serial,
        serial_start=block.serial_start,
        serial_end=block.serial_end,
        vintage=block.vintage,
        status=block.status.value,
        authorization_status=block.authorization_status.value,
        owner=owner.name,
        owner_country_code=owner.country_code,
        link=links.unit(serial),
        status_reason=reason,
    )
