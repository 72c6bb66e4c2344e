"""Reconciliation, the ITL/SIAR idea (quality.md A1 #5, T7): recompute every holding from the
append-only ledger and compare it with the blocks, with the issuances and with the verification
statements behind them. `flask poa reconcile` prints the report."""

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.database import db
from poa_manager.errors import NotAllowed
from poa_manager.registry import policies
from poa_manager.registry.models import Account, CreditBlock, Issuance, LedgerEntry, LedgerKind, SerialCounter
from poa_manager.registry.services.issuance import positive_verification


@dataclass
class Reconciliation:
    accounts: int = 0
    blocks: int = 0
    ledger_entries: int = 0
    issuances: int = 0
    credits_issued: int = 0
    discrepancies: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.discrepancies


def reconcile(*, actor: User | None = None) -> Reconciliation:
    """The whole registry checked against its ledger; `actor` None is the operator's CLI."""
    if actor is not None and not policies.can_suspend(actor):
        raise NotAllowed("Registry and platform administrators reconcile.")
    report = Reconciliation()
    _accounts(report)
    _blocks(report)
    _issuances(report)
    return report


def _accounts(report: Reconciliation) -> None:
    received = dict(
        db.session.execute(
            sa.select(LedgerEntry.to_account_id, sa.func.sum(LedgerEntry.quantity)).group_by(
                LedgerEntry.to_account_id
            )
        ).all()
    )
    sent = dict(
        db.session.execute(
            sa.select(LedgerEntry.from_account_id, sa.func.sum(LedgerEntry.quantity))
            .where(LedgerEntry.from_account_id.is_not(None))
            .group_by(LedgerEntry.from_account_id)
        ).all()
    )
    held = dict(
        db.session.execute(
            sa.select(
                CreditBlock.account_id, sa.func.sum(CreditBlock.serial_end - CreditBlock.serial_start + 1)
            ).group_by(CreditBlock.account_id)
        ).all()
    )
    for account in db.session.scalars(sa.select(Account).order_by(Account.id)):
        report.accounts += 1
        from_ledger = int(received.get(account.id, 0)) - int(sent.get(account.id, 0))
        in_blocks = int(held.get(account.id, 0))
        if from_ledger != in_blocks:
            report.discrepancies.append(
                f"{account.number} ({account.kind.value}): "
                f"ledger balance {from_ledger}, blocks hold {in_blocks}"
            )
    report.ledger_entries = db.session.scalar(sa.select(sa.func.count(LedgerEntry.id)))


def _blocks(report: Reconciliation) -> None:
    """No two blocks of a programme and vintage overlap, and together they are exactly what was issued."""
    rows = db.session.execute(
        sa.select(
            CreditBlock.programme_id, CreditBlock.vintage, CreditBlock.serial_start, CreditBlock.serial_end
        ).order_by(CreditBlock.programme_id, CreditBlock.vintage, CreditBlock.serial_start)
    ).all()
    totals: dict[tuple[int, int], int] = defaultdict(int)
    previous = None
    for programme_id, vintage, start, end in rows:
        report.blocks += 1
        totals[(programme_id, vintage)] += end - start + 1
        if previous and previous[:2] == (programme_id, vintage) and start <= previous[3]:
            report.discrepancies.append(
                f"programme {programme_id} vintage {vintage}: blocks "
                f"{previous[2]}–{previous[3]} and {start}–{end} overlap"
            )
        previous = (programme_id, vintage, start, end)
    issued = db.session.execute(
        sa.select(LedgerEntry.programme_id, LedgerEntry.vintage, sa.func.sum(LedgerEntry.quantity))
        .where(LedgerEntry.kind == LedgerKind.issuance)
        .group_by(LedgerEntry.programme_id, LedgerEntry.vintage)
    ).all()
    counters = {
        (c.programme_id, c.vintage): c.next_serial for c in db.session.scalars(sa.select(SerialCounter))
    }
    for programme_id, vintage, quantity in issued:
        if totals.get((programme_id, vintage), 0) != int(quantity):
            report.discrepancies.append(
                f"programme {programme_id} vintage {vintage}: issued {quantity}, "
                f"blocks add up to {totals.get((programme_id, vintage), 0)}"
            )
        if counters.get((programme_id, vintage), 1) - 1 < int(quantity):
            report.discrepancies.append(
                f"programme {programme_id} vintage {vintage}: serial counter behind the blocks"
            )


def _issuances(report: Reconciliation) -> None:
    issued = dict(
        db.session.execute(
            sa.select(LedgerEntry.issuance_id, sa.func.sum(LedgerEntry.quantity))
            .where(LedgerEntry.kind == LedgerKind.issuance)
            .group_by(LedgerEntry.issuance_id)
        ).all()
    )
    for issuance in db.session.scalars(sa.select(Issuance).order_by(Issuance.id)):
        report.issuances += 1
        report.credits_issued += issuance.credits
        in_ledger = int(issued.get(issuance.id, 0))
        verification = positive_verification(issuance.request)
        verified = verification.credits_verified if verification else None
        if not in_ledger == issuance.credits == verified:
            report.discrepancies.append(
                f"{issuance.label}: ledger issued {in_ledger}, issuance {issuance.credits}, "
                f"verification statement {verified}"
            )
