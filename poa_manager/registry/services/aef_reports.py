"""The AEF report of a Party and year, built from the registry's own records by the pure
`registry.aef` and frozen once generated: its holdings as at 31 December are never recomputed
(domain.md §5.4; quality.md T9)."""

import bisect
import json
from collections import defaultdict
from datetime import date, datetime

import sqlalchemy as sa

from poa_manager.accounts.models import Organisation, User
from poa_manager.accounts.policies import can_administer
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit import services as audit
from poa_manager.database import db, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed
from poa_manager.registry import aef, policies
from poa_manager.registry.models import (
    Account,
    AefReport,
    Article6Action,
    Article6ActionType,
    Authorization,
    CreditBlock,
    LedgerEntry,
)
from poa_manager.registry.services.article6 import end_of, registry_id

NDC_PERIOD = (2021, 2030)  # the current NDC implementation period [U]: configurable per Party later
_HOLDING_STATUS = {
    Article6ActionType.authorization: "authorized",
    Article6ActionType.first_transfer: "first_transferred",
    Article6ActionType.transfer: "first_transferred",
    Article6ActionType.acquisition: "first_transferred",
    Article6ActionType.use_ndc: "used",
    Article6ActionType.use_oimp: "used",
    Article6ActionType.omge_cancellation: "cancelled",
    Article6ActionType.voluntary_cancellation: "cancelled",
}


def can_report(actor: User, party: str) -> bool:
    """The Party's own government, and registry or platform administrators."""
    organisation = actor.organisation
    own = organisation.kind is OrganisationKind.host_government and (organisation.country_code or "") == party
    return actor.is_active and (own or can_administer(actor) or policies.is_registry_administrator(actor))


def generate_aef_report(
    *, actor: User, party: str, year: int, submitted_on: date | None = None, now: datetime | None = None
) -> AefReport:
    """Build and freeze the report; a report already generated for the Party and year is returned
    as it was (holdings as at 31 December must not be recomputed)."""
    party = (party or "").strip().upper()
    if len(party) != 2 or not party.isalpha() or not 1990 <= (year or 0) <= 2100:
        raise InvalidInput(
            "A two-letter Party and a year.", errors={"party": ["e.g. VN"], "year": ["e.g. 2025"]}
        )
    if not can_report(actor, party):
        raise NotAllowed(f"Only the government of {party} or a registry administrator reports its AEF.")
    frozen = db.session.scalar(sa.select(AefReport).where(AefReport.party == party, AefReport.year == year))
    if frozen is not None:
        return frozen
    now = now or utcnow()
    built = build(party=party, year=year, submitted_on=submitted_on or now.date())
    report = AefReport(
        party=party,
        year=year,
        content=json.loads(aef.report_json(built)),
        generated_by_id=actor.id,
        generated_at=now,
    )
    db.session.add(report)
    db.session.flush()
    audit.record(
        "registry.aef_generated",
        actor=actor,
        entity_type="aef_report",
        entity_id=report.id,
        after={"party": party, "year": year, "totals": report.content["totals"]},
    )
    return report


def build(*, party: str, year: int, submitted_on: date) -> aef.AefReport:
    """The report from the records as they stand (what `generate_aef_report` freezes)."""
    authorizations = db.session.scalars(sa.select(Authorization).order_by(Authorization.id)).all()
    by_id = {a.id: a for a in authorizations}
    actions = db.session.scalars(sa.select(Article6Action).order_by(Article6Action.id)).all()
    return aef.build_report(
        party=party,
        year=year,
        submitted_on=submitted_on,
        ndc_period=NDC_PERIOD,
        authorizations=[_authorization_record(a) for a in authorizations],
        actions=[_action_record(a, by_id[a.authorization_id]) for a in actions],
        holdings=_holdings(year, by_id, actions),
    )


def _authorization_record(a: Authorization) -> aef.AuthorizationRecord:
    return aef.AuthorizationRecord(
        authorization_id=a.reference,
        version=a.version,
        cooperative_approach=a.cooperative_approach,
        authorizing_party=a.authorizing_party,
        authorized_on=a.authorized_on,
        purposes=tuple(a.purposes),
        first_transfer_definition=a.first_transfer_definition.value,
        authorized_parties=tuple(a.using_parties or ()),
        authorized_entities=tuple((e["name"], e.get("country") or "") for e in a.using_entities or ()),
        quantity_tco2e=a.quantity_tco2e,
        vintage_first=a.vintage_first,
        vintage_last=a.vintage_last,
        sector=a.sector,
        activity_type=a.activity_type,
    )


def _action_record(action: Article6Action, authorization: Authorization) -> aef.ActionRecord:
    return aef.ActionRecord(
        action_date=action.occurred_at.date(),
        action_type=action.action_type.value,
        authorization_id=authorization.reference,
        cooperative_approach=authorization.cooperative_approach,
        registry_id=registry_id(),
        first_transferring_party=authorization.authorizing_party,
        serial_start=action.serial_start,
        serial_end=action.serial_end,
        vintage=action.vintage,
        transferring_party=action.transferring_party,
        acquiring_party=action.acquiring_party,
        purposes=tuple(authorization.purposes),
        using_party_or_entity=action.using_party_or_entity,
        first_transfer=action.first_transfer,
    )


def _holdings(year: int, by_id: dict[int, Authorization], actions) -> list[aef.HoldingRecord]:
    """Each authorized block's position as at 31 December of `year`: its status from the last
    Article 6 action covering it up to then, its holder from the last ledger movement up to then.

    Blocks only ever split, so every action or ledger row covers whole current blocks: one sweep
    over the rows in order, finding the covered blocks by bisection, gives each block its last row
    (no per-block query; bench/bench_registry.py).
    """
    cutoff = end_of(year)
    blocks = db.session.scalars(
        sa.select(CreditBlock)
        .where(CreditBlock.authorization_id.is_not(None))
        .order_by(CreditBlock.programme_id, CreditBlock.vintage, CreditBlock.serial_start)
    ).all()
    groups: dict[tuple[int, int], list[CreditBlock]] = defaultdict(list)
    for block in blocks:
        groups[(block.programme_id, block.vintage)].append(block)
    starts = {key: [b.serial_start for b in group] for key, group in groups.items()}

    def covered(programme_id: int, vintage: int, start: int, end: int) -> list[CreditBlock]:
        group = groups.get((programme_id, vintage))
        if not group:
            return []
        first = bisect.bisect_left(starts[(programme_id, vintage)], start)
        last = bisect.bisect_right(starts[(programme_id, vintage)], end)
        return [b for b in group[first:last] if b.serial_end <= end]

    last_action: dict[int, Article6Action] = {}
    for action in actions:  # in id order: a later action overrides
        if action.occurred_at < cutoff:
            for block in covered(action.programme_id, action.vintage, action.serial_start, action.serial_end):
                last_action[block.id] = action
    holder: dict[int, int] = {}
    if groups:
        entries = db.session.execute(
            sa.select(
                LedgerEntry.programme_id,
                LedgerEntry.vintage,
                LedgerEntry.serial_start,
                LedgerEntry.serial_end,
                LedgerEntry.to_account_id,
            )
            .where(
                LedgerEntry.programme_id.in_({key[0] for key in groups}),
                LedgerEntry.recorded_at < cutoff,
            )
            .order_by(LedgerEntry.id)
        )
        for programme_id, vintage, start, end, to_account_id in entries:
            for block in covered(programme_id, vintage, start, end):
                holder[block.id] = to_account_id
    countries = dict(
        db.session.execute(
            sa.select(Account.id, Organisation.country_code).join(
                Organisation, Organisation.id == Account.organisation_id
            )
        ).all()
    )
    records = []
    for block in blocks:
        action = last_action.get(block.id)
        if action is None:
            continue  # not authorized yet at the end of the year
        authorization = by_id[block.authorization_id]
        records.append(
            aef.HoldingRecord(
                cooperative_approach=authorization.cooperative_approach,
                registry_id=registry_id(),
                first_transferring_party=authorization.authorizing_party,
                serial_start=block.serial_start,
                serial_end=block.serial_end,
                vintage=block.vintage,
                status=_HOLDING_STATUS[action.action_type],
                holder_party=countries.get(holder.get(block.id)) or None,
            )
        )
    return records


def get_aef_report(report_id: int, *, actor: User) -> AefReport:
    report = one_or_not_found(sa.select(AefReport).where(AefReport.id == report_id), "No such report.")
    if not can_report(actor, report.party):
        raise NotAllowed("Not your Party's report.")
    return report


def list_aef_reports(*, actor: User) -> list[AefReport]:
    reports = db.session.scalars(sa.select(AefReport).order_by(AefReport.year.desc(), AefReport.party)).all()
    return [r for r in reports if can_report(actor, r.party)]


def report_file(report: AefReport, fmt: str) -> tuple[bytes, str]:
    """The frozen report as JSON, CSV or XLSX (content, mimetype)."""
    frozen = aef.AefReport(party=report.party, year=report.year, tables=report.content["tables"], totals={})
    if fmt == "json":
        return json.dumps(
            report.content, sort_keys=True, indent=2, ensure_ascii=False
        ).encode(), "application/json"
    if fmt == "csv":
        return aef.report_csv(frozen), "text/csv"
    if fmt == "xlsx":
        return aef.report_xlsx(frozen), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    raise InvalidInput("json, csv or xlsx.", errors={"format": ["json, csv or xlsx."]})
