"""The public side: look up any serial or range with no login and see each block's whole history
back to its programme, site, monitoring period and verification; CSV of issuances and retirements
(quality.md A1 #10: anyone can export without an account)."""

import csv
import io
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from poa_manager.database import db
from poa_manager.errors import InvalidInput
from poa_manager.monitoring.models import IssuanceRequest, MonitoringReport
from poa_manager.programmes.models import Programme
from poa_manager.registry import serials
from poa_manager.registry.models import (
    CreditBlock,
    Issuance,
    LedgerEntry,
    LedgerKind,
    Transaction,
)
from poa_manager.registry.services import article6
from poa_manager.sites.models import Site
from poa_manager.tabular import neutralise
from poa_manager.verification.models import Verification


def serial_of(block: CreditBlock) -> str:
    """The block's readable serial: mechanism, host country, programme, site, vintage and range."""
    return block.serial


@dataclass(frozen=True)
class BlockHistory:
    block: CreditBlock
    serial: str
    entries: list[LedgerEntry]  # every movement of any of these serials, oldest first
    transactions: dict[int, Transaction]
    issuance: Issuance
    request: IssuanceRequest
    report: MonitoringReport
    verification: Verification | None
    article6_actions: list  # Article6Action rows covering these serials


def lookup_serial(text: str) -> list[BlockHistory]:
    """Every block overlapping the serial or range `text` names, with its history."""
    try:
        prefix, wanted = serials.parse_serial(text)
    except ValueError as error:
        raise InvalidInput(f"Not a serial: {error}", errors={"q": [str(error)]}) from error
    programme = db.session.scalar(
        sa.select(Programme).where(sa.func.upper(Programme.reference) == prefix.programme.upper())
    )
    if programme is None or serials.MECHANISM_CODES[programme.mechanism.value] != prefix.mechanism:
        return []
    blocks = db.session.scalars(
        sa.select(CreditBlock)
        .join(Site, Site.id == CreditBlock.site_id)
        .where(
            CreditBlock.programme_id == programme.id,
            CreditBlock.vintage == prefix.vintage,
            sa.func.upper(Site.reference) == prefix.site.upper(),
            CreditBlock.serial_start <= wanted.end,
            CreditBlock.serial_end >= wanted.start,
        )
        .order_by(CreditBlock.serial_start)
        .limit(200)
    ).all()
    return [history_of(block) for block in blocks]


def history_of(block: CreditBlock) -> BlockHistory:
    entries = db.session.scalars(
        sa.select(LedgerEntry)
        .options(selectinload(LedgerEntry.from_account), selectinload(LedgerEntry.to_account))
        .where(
            LedgerEntry.programme_id == block.programme_id,
            LedgerEntry.vintage == block.vintage,
            LedgerEntry.serial_start <= block.serial_end,
            LedgerEntry.serial_end >= block.serial_start,
        )
        .order_by(LedgerEntry.id)
    ).all()
    ids = {e.transaction_id for e in entries if e.transaction_id}
    transactions = (
        {t.id: t for t in db.session.scalars(sa.select(Transaction).where(Transaction.id.in_(ids)))}
        if ids
        else {}
    )
    issuance = block.issuance
    verification = db.session.scalar(
        sa.select(Verification).where(
            Verification.request_id == issuance.request_id, Verification.approved_at.is_not(None)
        )
    )
    return BlockHistory(
        block=block,
        serial=serial_of(block),
        entries=list(entries),
        transactions=transactions,
        issuance=issuance,
        request=issuance.request,
        report=issuance.request.report,
        verification=verification,
        article6_actions=article6.article6_actions(block=block),
    )


def public_csv(kind: str) -> bytes:
    """`issuances`: every issued block as issued; `retirements`: every retired block with its
    beneficiary, purpose and using entity. Formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    serial_of_entry = _EntrySerials()
    if kind == "issuances":
        writer.writerow(["serial", "programme", "site", "vintage", "quantity", "issuance", "issued_at"])
        query = sa.select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.issuance).order_by(LedgerEntry.id)
        for entry in db.session.scalars(query):
            serial, programme, site = serial_of_entry(entry)
            issuance = f"ISS-{entry.issuance_id:05d}"
            row = [serial, programme, site, entry.vintage, entry.quantity, issuance, entry.recorded_at.date()]
            writer.writerow(_safe(row))
        return buffer.getvalue().encode()
    writer.writerow(
        ["serial", "programme", "site", "vintage", "quantity", "retired_at", "beneficiary", "purpose"]
        + ["using_entity", "transaction"]
    )
    query = (
        sa.select(LedgerEntry, Transaction)
        .join(Transaction, Transaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.kind == LedgerKind.retirement)
        .order_by(LedgerEntry.id)
    )
    for entry, transaction in db.session.execute(query):
        serial, programme, site = serial_of_entry(entry)
        row = [serial, programme, site, entry.vintage, entry.quantity, entry.recorded_at.date()]
        row += [transaction.beneficiary, transaction.purpose, transaction.using_entity, transaction.label]
        writer.writerow(_safe(row))
    return buffer.getvalue().encode()


class _EntrySerials:
    """The readable serial of a ledger row's range, with programmes and sites read up front (a public
    CSV of every issuance must not query per row)."""

    def __init__(self) -> None:
        self.programmes = {p.id: p for p in db.session.scalars(sa.select(Programme))}
        credited = sa.select(LedgerEntry.site_id).distinct().scalar_subquery()
        self.sites = dict(
            db.session.execute(sa.select(Site.id, Site.reference).where(Site.id.in_(credited))).all()
        )

    def __call__(self, entry: LedgerEntry) -> tuple[str, str, str]:
        programme = self.programmes[entry.programme_id]
        site = self.sites[entry.site_id]
        prefix = serials.SerialPrefix(
            mechanism=serials.MECHANISM_CODES[programme.mechanism.value],
            host_country=programme.host_country,
            programme=programme.reference,
            site=site,
            vintage=entry.vintage,
        )
        return serials.format_serial(prefix, entry.range), programme.reference, site


def _safe(row: list) -> list:
    return [neutralise(value) for value in row]
