"""The registry's records: accounts, serial-numbered credit blocks, issuances, the transaction
workflow, the append-only ledger, serial freezes and the suspension switch."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import BigInteger, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from poa_manager.database import Timestamped, db, utcnow
from poa_manager.registry import serials

if TYPE_CHECKING:
    from poa_manager.accounts.models import Organisation, User
    from poa_manager.monitoring.models import IssuanceRequest
    from poa_manager.programmes.models import Programme
    from poa_manager.sites.models import Site


class AccountKind(StrEnum):
    """JCM registry common specifications (domain.md §4.4): issuance lands in a pending account;
    holding accounts trade; retirement and cancellation accounts are where units end."""

    pending = "pending"
    holding = "holding"
    retirement = "retirement"
    cancellation = "cancellation"

    @property
    def is_terminal(self) -> bool:
        return self in (AccountKind.retirement, AccountKind.cancellation)


class Account(Timestamped, db.Model):
    """An organisation's account of one kind (one of each kind per organisation)."""

    __tablename__ = "registry_accounts"
    __table_args__ = (
        UniqueConstraint("organisation_id", "kind"),
        sa.CheckConstraint("transfer_delay_hours >= 0", name="delay_not_negative"),
        sa.CheckConstraint("transfer_limit IS NULL OR transfer_limit > 0", name="limit_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[AccountKind]
    # Quality.md A1 #9: a delay between approval and completion gives the owner a window to stop
    # a fraudulent transfer; a per-transaction limit caps what one transfer can move.
    transfer_delay_hours: Mapped[int] = mapped_column(default=0)
    transfer_limit: Mapped[int | None]

    organisation: Mapped[Organisation] = relationship()

    @property
    def label(self) -> str:
        return f"{self.organisation.name} — {self.kind.value}"

    @property
    def number(self) -> str:
        return f"ACC-{self.id:05d}"


class BlockStatus(StrEnum):
    active = "active"
    retired = "retired"  # terminal (quality.md A1 #12)
    cancelled = "cancelled"  # terminal


class AuthorizationStatus(StrEnum):
    """Article 6.2 state of a block (quality.md A1 #11)."""

    mitigation_outcome = "mitigation_outcome"  # not authorized
    authorized = "authorized"
    first_transferred = "first_transferred"  # an ITMO; the corresponding adjustment is recorded


class AuthorizationPurpose(StrEnum):
    ndc = "ndc"  # use towards another Party's NDC
    oimp = "oimp"  # other international mitigation purposes, e.g. CORSIA
    other = "other"


class FirstTransferDefinition(StrEnum):
    """When authorized units first transfer (decision 2/CMA.3 annex para 2, domain.md §5.1)."""

    issuance = "issuance"
    authorization = "authorization"
    first_international_transfer = "first_international_transfer"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Article6Use(StrEnum):
    use_ndc = "use_ndc"  # a retirement: use towards an NDC
    use_oimp = "use_oimp"  # a retirement: use for other international mitigation purposes
    omge_cancellation = "omge_cancellation"  # a cancellation for overall mitigation
    voluntary_cancellation = "voluntary_cancellation"

    @property
    def label(self) -> str:
        return (
            self.value.replace("_", " ").replace("ndc", "NDC").replace("oimp", "OIMP").replace("omge", "OMGE")
        )


class CreditBlock(Timestamped, db.Model):
    """An inclusive range of serial numbers of one programme, site and vintage, held in one
    account. Blocks of a programme and vintage never overlap (constraints back the allocator)."""

    __tablename__ = "credit_blocks"
    __table_args__ = (
        UniqueConstraint("programme_id", "vintage", "serial_start"),
        UniqueConstraint("programme_id", "vintage", "serial_end"),
        sa.CheckConstraint("serial_start >= 1", name="start_positive"),
        sa.CheckConstraint("serial_end >= serial_start", name="end_not_before_start"),
        sa.Index("ix_credit_blocks_range", "programme_id", "vintage", "serial_start", "serial_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    vintage: Mapped[int]
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"), index=True)
    status: Mapped[BlockStatus] = mapped_column(default=BlockStatus.active)
    issuance_id: Mapped[int] = mapped_column(ForeignKey("issuances.id"), index=True)
    # Set while a proposed or approved transaction holds the block, so it cannot be spent twice.
    reserved_by_id: Mapped[int | None] = mapped_column(ForeignKey("registry_transactions.id"))
    authorization_status: Mapped[AuthorizationStatus] = mapped_column(
        default=AuthorizationStatus.mitigation_outcome
    )
    authorization_id: Mapped[int | None] = mapped_column(ForeignKey("authorizations.id"), index=True)

    programme: Mapped[Programme] = relationship()
    site: Mapped[Site] = relationship()
    account: Mapped[Account] = relationship()
    issuance: Mapped[Issuance] = relationship(back_populates="blocks")
    reserved_by: Mapped[Transaction | None] = relationship(foreign_keys=[reserved_by_id], viewonly=True)
    authorization: Mapped[Authorization | None] = relationship()

    @property
    def range(self) -> serials.SerialRange:
        return serials.SerialRange(self.serial_start, self.serial_end)

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1

    @property
    def serial(self) -> str:
        """The readable serial (registry/serials.py): mechanism, host country, programme, site,
        vintage and range."""
        programme = self.programme
        prefix = serials.SerialPrefix(
            mechanism=serials.MECHANISM_CODES[programme.mechanism.value],
            host_country=programme.host_country,
            programme=programme.reference,
            site=self.site.reference,
            vintage=self.vintage,
        )
        return serials.format_serial(prefix, self.range)


class SerialCounter(db.Model):
    """The next free serial number of a programme and vintage. Allocation bumps it with one
    atomic UPDATE … RETURNING, so two issuances never get the same numbers (quality.md T2)."""

    __tablename__ = "serial_counters"

    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), primary_key=True)
    vintage: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    next_serial: Mapped[int] = mapped_column(BigInteger, default=1)


class IssuanceStatus(StrEnum):
    issued = "issued"  # in the pending account (quality.md A1 #3)
    forwarded = "forwarded"  # split by the allocation table into the holders' accounts


class Issuance(Timestamped, db.Model):
    """A registry administrator's approval of a verified issuance request, and its blocks."""

    __tablename__ = "issuances"
    __table_args__ = (
        sa.CheckConstraint("credits >= 0", name="credits_not_negative"),
        # Maker/checker (quality.md A1 #6) in the database as well as in the service.
        sa.CheckConstraint("approved_by_id != requested_by_id", name="approver_not_requester"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("issuance_requests.id"), unique=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    pending_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    credits: Mapped[int]
    status: Mapped[IssuanceStatus] = mapped_column(default=IssuanceStatus.issued)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime]
    forwarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    forwarded_at: Mapped[datetime | None]

    request: Mapped[IssuanceRequest] = relationship()
    programme: Mapped[Programme] = relationship()
    pending_account: Mapped[Account] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    approved_by: Mapped[User] = relationship(foreign_keys=[approved_by_id])
    forwarded_by: Mapped[User | None] = relationship(foreign_keys=[forwarded_by_id])
    blocks: Mapped[list[CreditBlock]] = relationship(
        back_populates="issuance", order_by="(CreditBlock.vintage, CreditBlock.serial_start)"
    )

    @property
    def label(self) -> str:
        return f"ISS-{self.id:05d}"


class AllocationDestination(StrEnum):
    holding = "holding"  # forwarded to the organisation's holding account
    cancellation = "cancellation"  # share of proceeds / OMGE: cancelled on forwarding


class AllocationShare(db.Model):
    """One line of a programme's credit allocation table (JCM PCP form 3.5, domain.md §4.4)."""

    __tablename__ = "allocation_shares"
    __table_args__ = (
        UniqueConstraint("programme_id", "organisation_id", "destination"),
        sa.CheckConstraint("share_percent > 0 AND share_percent <= 100", name="share_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    destination: Mapped[AllocationDestination] = mapped_column(default=AllocationDestination.holding)
    share_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    position: Mapped[int] = mapped_column(default=0)  # forwarding order: serials follow it

    organisation: Mapped[Organisation] = relationship()


class TransactionKind(StrEnum):
    transfer = "transfer"
    retirement = "retirement"
    cancellation = "cancellation"


class TransactionStatus(StrEnum):
    proposed = "proposed"  # initiated; waits for a second person
    approved = "approved"  # approved; waits for the account's delay to pass
    completed = "completed"  # executed: the ledger holds it
    rejected = "rejected"
    withdrawn = "withdrawn"  # the initiator's organisation stopped it before completion

    @property
    def is_open(self) -> bool:
        return self in (TransactionStatus.proposed, TransactionStatus.approved)


class Transaction(db.Model):
    """A transfer, retirement or cancellation of one block or part of it: initiated, approved by a
    second person, then completed (quality.md A1 #6, #9). The moved units are split off and
    reserved at initiation, so nothing else can spend them meanwhile."""

    __tablename__ = "registry_transactions"
    __table_args__ = (
        UniqueConstraint("initiated_by_id", "idempotency_key"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint(
            "approved_by_id IS NULL OR approved_by_id != initiated_by_id", name="approver_not_initiator"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TransactionKind]
    status: Mapped[TransactionStatus] = mapped_column(default=TransactionStatus.proposed)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    block_id: Mapped[int] = mapped_column(ForeignKey("credit_blocks.id", use_alter=True))
    quantity: Mapped[int]
    from_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"), index=True)
    to_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    initiated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    initiated_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    executable_after: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # rejected or withdrawn
    closed_reason: Mapped[str | None] = mapped_column(String(1000))
    # Retirement (quality.md A1 #11: Gold Standard's "using entity"); cancellation gives a reason.
    beneficiary: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(500))
    using_entity: Mapped[str | None] = mapped_column(String(200))
    # Article 6.2: what a retirement or cancellation of authorized units is (domain.md §5.4).
    article6_use: Mapped[Article6Use | None]

    block: Mapped[CreditBlock] = relationship(foreign_keys=[block_id])
    programme: Mapped[Programme] = relationship()
    from_account: Mapped[Account] = relationship(foreign_keys=[from_account_id])
    to_account: Mapped[Account] = relationship(foreign_keys=[to_account_id])
    initiated_by: Mapped[User] = relationship(foreign_keys=[initiated_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    @property
    def label(self) -> str:
        return f"TX-{self.id:06d}"


class LedgerKind(StrEnum):
    issuance = "issuance"
    forward = "forward"
    transfer = "transfer"
    retirement = "retirement"
    cancellation = "cancellation"


class LedgerEntry(db.Model):
    """One movement of one serial range: the append-only record balances come from (quality.md
    A1 #10, T7). Triggers in the database refuse UPDATE and DELETE."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.CheckConstraint("serial_end >= serial_start AND serial_start >= 1", name="range_valid"),
        sa.CheckConstraint("quantity = serial_end - serial_start + 1", name="quantity_matches_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[LedgerKind]
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    vintage: Mapped[int]
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int]
    from_account_id: Mapped[int | None] = mapped_column(ForeignKey("registry_accounts.id"), index=True)
    to_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"), index=True)
    issuance_id: Mapped[int | None] = mapped_column(ForeignKey("issuances.id"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("registry_transactions.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    from_account: Mapped[Account | None] = relationship(foreign_keys=[from_account_id])
    to_account: Mapped[Account] = relationship(foreign_keys=[to_account_id])
    actor: Mapped[User] = relationship()

    @property
    def range(self) -> serials.SerialRange:
        return serials.SerialRange(self.serial_start, self.serial_end)


class SerialFreeze(db.Model):
    """An administrator's freeze of a serial range: every later transaction touching it is refused
    with the code `serial_frozen` until it is lifted (quality.md A2, lessons)."""

    __tablename__ = "serial_freezes"
    __table_args__ = (sa.CheckConstraint("serial_end >= serial_start", name="range_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    vintage: Mapped[int]
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(1000))
    frozen_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None]

    programme: Mapped[Programme] = relationship()
    frozen_by: Mapped[User] = relationship(foreign_keys=[frozen_by_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])

    @property
    def range(self) -> serials.SerialRange:
        return serials.SerialRange(self.serial_start, self.serial_end)


class RegistrySwitch(db.Model):
    """The one-row global suspension switch: while on, every transaction is refused with the code
    `registry_suspended` (the EU's January 2011 suspension, quality.md A2; T13)."""

    __tablename__ = "registry_switches"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    suspended: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(1000))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime | None]


# --- Article 6.2 (domain.md §5) ------------------------------------------------------------------


class Authorization(Timestamped, db.Model):
    """A host Party's authorization of a programme's mitigation outcomes as ITMOs (letter of
    authorization; domain.md §5.1, AEF table 2)."""

    __tablename__ = "authorizations"
    __table_args__ = (
        UniqueConstraint("authorizing_party", "reference", "version"),
        sa.CheckConstraint("quantity_tco2e > 0", name="quantity_positive"),
        sa.CheckConstraint("vintage_last >= vintage_first", name="vintages_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    authorizing_party: Mapped[str] = mapped_column(String(2))  # ISO-2: the host Party
    reference: Mapped[str] = mapped_column(String(100))  # the letter of authorization
    version: Mapped[int] = mapped_column(default=1)
    cooperative_approach: Mapped[str] = mapped_column(String(6))  # "CA" + 4 digits (CARP)
    purposes: Mapped[list] = mapped_column(sa.JSON)
    first_transfer_definition: Mapped[FirstTransferDefinition]
    quantity_tco2e: Mapped[int]
    vintage_first: Mapped[int]
    vintage_last: Mapped[int]
    using_parties: Mapped[list] = mapped_column(sa.JSON, default=list)
    using_entities: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{"name", "country"}]
    sector: Mapped[str] = mapped_column(String(100))
    activity_type: Mapped[str] = mapped_column(String(100))
    authorized_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    programme: Mapped[Programme] = relationship()
    recorded_by: Mapped[User] = relationship()

    @property
    def label(self) -> str:
        return f"{self.reference} v{self.version}"


class CorrespondingAdjustment(db.Model):
    """The first transferring Party adds the units first transferred to its emissions balance
    (MPG para 77(d) with 2/CMA.3; domain.md §5.1). Recorded at first transfer only (§5.5)."""

    __tablename__ = "corresponding_adjustments"
    __table_args__ = (
        sa.CheckConstraint("quantity = serial_end - serial_start + 1", name="quantity_matches"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("authorizations.id"), index=True)
    party: Mapped[str] = mapped_column(String(2))
    vintage: Mapped[int]
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int]
    trigger: Mapped[FirstTransferDefinition]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    authorization: Mapped[Authorization] = relationship()


class Article6ActionType(StrEnum):
    """AEF action types (UNDP registry's enum; domain.md §5.4)."""

    authorization = "authorization"
    first_transfer = "first_transfer"
    transfer = "transfer"
    acquisition = "acquisition"
    use_ndc = "use_ndc"
    use_oimp = "use_oimp"
    omge_cancellation = "omge_cancellation"
    voluntary_cancellation = "voluntary_cancellation"


class Article6Action(db.Model):
    """One Article 6 action on one serial range: what AEF table 3 reports. Append-only."""

    __tablename__ = "article6_actions"
    __table_args__ = (
        sa.CheckConstraint("quantity = serial_end - serial_start + 1", name="quantity_matches"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_type: Mapped[Article6ActionType]
    authorization_id: Mapped[int] = mapped_column(ForeignKey("authorizations.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    vintage: Mapped[int]
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int]
    transferring_party: Mapped[str | None] = mapped_column(String(2))
    acquiring_party: Mapped[str | None] = mapped_column(String(2))
    using_party_or_entity: Mapped[str | None] = mapped_column(String(200))
    first_transfer: Mapped[bool] = mapped_column(default=False)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("registry_transactions.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    authorization: Mapped[Authorization] = relationship()


class AefReport(db.Model):
    """An AEF-style report of one Party and year, frozen once generated (AEF table 4's holdings as at
    31 December must not be recomputed later; domain.md §5.4)."""

    __tablename__ = "aef_reports"
    __table_args__ = (UniqueConstraint("party", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    party: Mapped[str] = mapped_column(String(2))
    year: Mapped[int]
    content: Mapped[dict] = mapped_column(sa.JSON)
    generated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)

    generated_by: Mapped[User] = relationship()


class RegistryEvent(db.Model):
    """The registry's outbox: one row per issuance, forward, transfer, retirement, cancellation,
    authorization and first transfer, with the serial range and transaction id (quality.md A1 #4).
    Webhooks and notifications are delivered from here, after the change commits."""

    __tablename__ = "registry_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id"))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
