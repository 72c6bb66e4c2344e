"""Issuance: a registry administrator approves a verified request; its credits are allocated
serial-numbered blocks per site and vintage into the pending account, then forwarded by the
programme's allocation table (quality.md A1 #3; domain.md §4.4)."""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, Organisation, User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed
from poa_manager.monitoring.models import IssuanceRequest, IssuanceRequestLine, RequestStatus
from poa_manager.programmes.models import Programme
from poa_manager.programmes.rules import Mechanism
from poa_manager.registry import policies, serials
from poa_manager.registry.models import (
    AccountKind,
    AllocationDestination,
    AllocationShare,
    BlockStatus,
    CreditBlock,
    Issuance,
    IssuanceStatus,
    LedgerKind,
    SerialCounter,
)
from poa_manager.registry.services import article6
from poa_manager.registry.services.blocks import ledger_entry, preload_sites, split_block
from poa_manager.registry.services.controls import RegistryRefusal, ensure_none_frozen, ensure_open
from poa_manager.registry.services.events import block_payload, emit
from poa_manager.registry.services.holdings import account_of, insert_or_skip
from poa_manager.verification.models import (
    FrameEntry,
    Opinion,
    PopulationDecision,
    Verification,
    VerificationStatus,
)

# JCM model projects financed by MOEJ deliver at least 50 % of credits to the Government of Japan
# (domain.md §4.4, [C]).
JCM_MODEL_PROJECT_MIN_JAPAN_PERCENT = Decimal(50)


# --- the allocation table -----------------------------------------------------------------------


def allocation_table(programme: Programme) -> list[AllocationShare]:
    return list(
        db.session.scalars(
            sa.select(AllocationShare)
            .where(AllocationShare.programme_id == programme.id)
            .order_by(AllocationShare.position, AllocationShare.id)
        )
    )


def set_allocation_table(
    programme: Programme, *, actor: User, shares: list[dict], jcm_model_project: bool = False
) -> list[AllocationShare]:
    """Replace the programme's allocation table: shares (organisation, percent, holding or
    cancellation) adding up to exactly 100 %; for a JCM model project at least 50 % to Japan."""
    if not policies.can_set_allocation(actor, programme):
        raise NotAllowed("Only the coordinator or the registry administrator sets the allocation table.")
    lines, seen = [], set()
    for i, share in enumerate(shares):
        organisation = db.session.get(Organisation, share.get("organisation_id") or 0)
        percent = Decimal(str(share.get("share_percent") or 0))
        destination = AllocationDestination(share.get("destination") or AllocationDestination.holding)
        if organisation is None:
            raise InvalidInput("Unknown organisation.", errors={f"shares.{i}.organisation_id": ["Unknown."]})
        if not Decimal(0) < percent <= Decimal(100) or percent != percent.quantize(Decimal("0.01")):
            raise InvalidInput(
                "Each share is above 0 and at most 100 %, to two decimals.",
                errors={f"shares.{i}.share_percent": ["0.01 to 100."]},
            )
        if (organisation.id, destination) in seen:
            raise InvalidInput(f"{organisation.name} is listed twice for {destination.value}.")
        seen.add((organisation.id, destination))
        lines.append((organisation, percent, destination))
    total = sum((percent for _o, percent, _d in lines), Decimal(0))
    if total != Decimal(100):
        raise RegistryRefusal(f"The shares add up to {total} %, not 100 %.", code="allocation_invalid")
    if jcm_model_project:
        japan = sum(
            (
                p
                for o, p, d in lines
                if o.kind is OrganisationKind.host_government
                and o.country_code == "JP"
                and d is AllocationDestination.holding
            ),
            Decimal(0),
        )
        if programme.mechanism is not Mechanism.jcm or japan < JCM_MODEL_PROJECT_MIN_JAPAN_PERCENT:
            raise RegistryRefusal(
                f"A JCM model project delivers at least {JCM_MODEL_PROJECT_MIN_JAPAN_PERCENT} % to the "
                f"Government of Japan; this table gives {japan} %.",
                code="allocation_invalid",
            )
    before = [_describe(s) for s in allocation_table(programme)]
    db.session.execute(sa.delete(AllocationShare).where(AllocationShare.programme_id == programme.id))
    table = [
        AllocationShare(
            programme_id=programme.id,
            organisation_id=organisation.id,
            share_percent=percent,
            destination=destination,
            position=position,
        )
        for position, (organisation, percent, destination) in enumerate(lines)
    ]
    db.session.add_all(table)
    db.session.flush()
    audit.record(
        "registry.allocation_table_set",
        actor=actor,
        entity_type="programme",
        entity_id=programme.id,
        before={"shares": before},
        after={"shares": [_describe(s) for s in table], "jcm_model_project": jcm_model_project},
    )
    return table


def _describe(share: AllocationShare) -> dict:
    return {
        "organisation_id": share.organisation_id,
        "share_percent": share.share_percent,
        "destination": share.destination,
    }


# --- approval and serial allocation -------------------------------------------------------------


def awaiting_issuance(*, actor: User) -> sa.Select[tuple[IssuanceRequest]]:
    """Verified requests of the programmes the actor administers the registry of."""
    administered = sa.select(Membership.programme_id).where(
        Membership.user_id == actor.id, Membership.role == Role.registry_administrator
    )
    return (
        sa.select(IssuanceRequest)
        .where(
            IssuanceRequest.status == RequestStatus.verified, IssuanceRequest.programme_id.in_(administered)
        )
        .order_by(IssuanceRequest.requested_at)
    )


def positive_verification(request: IssuanceRequest) -> Verification | None:
    return db.session.scalar(
        sa.select(Verification).where(
            Verification.request_id == request.id,
            Verification.status == VerificationStatus.completed,
            Verification.opinion == Opinion.positive,
        )
    )


def approve_issuance(request: IssuanceRequest, *, actor: User, now: datetime | None = None) -> Issuance:
    """Issue a verified request's credits into the registry's pending account.

    The statement's whole credits (rounded down once, by verification) are shared between the
    request's site lines in proportion to their claims with the largest-remainder method, so the
    blocks add up to exactly that number; sites the verifier excluded get none. A replay of the
    approval returns the issuance already made (T3).
    """
    ensure_open()
    lock(request)
    if not policies.can_approve_issuance(actor, request):
        raise NotAllowed("Only the programme's registry administrator approves issuance.")
    existing = db.session.scalar(sa.select(Issuance).where(Issuance.request_id == request.id))
    if existing is not None:
        return existing
    if actor.id == request.requested_by_id:
        raise RegistryRefusal(
            "You requested this issuance; another person approves it (four eyes).", code="self_approval"
        )
    verification = positive_verification(request) if request.status is RequestStatus.verified else None
    if verification is None or verification.credits_verified is None:
        raise RegistryRefusal(
            f"{request.label} has no positive verification statement.", code="request_not_verified"
        )
    pending = account_of(actor.organisation_id, AccountKind.pending)
    issuance = Issuance(
        request_id=request.id,
        programme_id=request.programme_id,
        pending_account_id=pending.id,
        credits=verification.credits_verified,
        requested_by_id=request.requested_by_id,
        approved_by_id=actor.id,
        approved_at=now or utcnow(),
    )
    db.session.add(issuance)
    db.session.flush()
    blocks = _issue_blocks(issuance, request, verification, actor=actor, now=issuance.approved_at)
    request.status = RequestStatus.issued
    db.session.flush()
    sites = preload_sites(blocks)
    emit(
        "issuance",
        programme_id=issuance.programme_id,
        issuance=issuance.label,
        request=request.label,
        credits=issuance.credits,
        blocks=[block_payload(b) for b in blocks],
    )
    article6.on_issuance(blocks, now=issuance.approved_at)
    del sites  # held until the serials above were written
    audit.record(
        "registry.issued",
        actor=actor,
        entity_type="issuance",
        entity_id=issuance.id,
        after={
            "request": request.label,
            "credits": issuance.credits,
            "blocks": [f"{b.vintage}:{b.range}" for b in blocks],
            "requested_by_id": request.requested_by_id,
        },
    )
    return issuance


def _issue_blocks(
    issuance: Issuance, request: IssuanceRequest, verification: Verification, *, actor: User, now: datetime
) -> list[CreditBlock]:
    excluded = set(
        db.session.scalars(
            sa.select(FrameEntry.site_id).where(
                FrameEntry.verification_id == verification.id,
                FrameEntry.population_decision == PopulationDecision.excluded,
            )
        )
    )
    lines = db.session.execute(
        sa.select(IssuanceRequestLine.site_id, IssuanceRequestLine.vintage, IssuanceRequestLine.claimed_tco2e)
        .where(IssuanceRequestLine.request_id == request.id)
        .order_by(IssuanceRequestLine.site_reference, IssuanceRequestLine.period_start)
    ).all()
    weights = [Decimal(0) if site_id in excluded else claimed for site_id, _v, claimed in lines]
    parts = serials.apportion(issuance.credits, weights) if any(weights) else [0] * len(lines)
    by_vintage: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for (site_id, vintage, _claimed), credits in zip(lines, parts, strict=True):
        if credits:
            by_vintage[vintage].append((site_id, credits))
    blocks = []
    for vintage, site_credits in sorted(by_vintage.items()):
        first = _reserve_serials(issuance.programme_id, vintage, sum(c for _s, c in site_credits))
        ranges = serials.allocate(first, [c for _s, c in site_credits])
        for (site_id, _credits), block_range in zip(site_credits, ranges, strict=True):
            blocks.append(
                CreditBlock(
                    programme_id=issuance.programme_id,
                    site_id=site_id,
                    vintage=vintage,
                    serial_start=block_range.start,
                    serial_end=block_range.end,
                    account_id=issuance.pending_account_id,
                    issuance_id=issuance.id,
                )
            )
    db.session.add_all(blocks)
    db.session.flush()
    db.session.add_all(
        ledger_entry(
            LedgerKind.issuance, block, None, issuance.pending_account_id, actor, now, issuance_id=issuance.id
        )
        for block in blocks
    )
    db.session.flush()
    return blocks


def _reserve_serials(programme_id: int, vintage: int, quantity: int) -> int:
    """Take `quantity` serial numbers from the programme-vintage counter with one atomic
    UPDATE … RETURNING: concurrent issuances queue on the row (PostgreSQL) or the database write
    lock (SQLite) and never share a number (quality.md T2). Returns the first number."""
    insert_or_skip(SerialCounter, programme_id=programme_id, vintage=vintage, next_serial=1)
    next_serial = db.session.scalar(
        sa.update(SerialCounter)
        .where(SerialCounter.programme_id == programme_id, SerialCounter.vintage == vintage)
        .values(next_serial=SerialCounter.next_serial + quantity)
        .returning(SerialCounter.next_serial),
        execution_options={"synchronize_session": False},
    )
    return next_serial - quantity


# --- forwarding ---------------------------------------------------------------------------------


def forward_issuance(issuance: Issuance, *, actor: User, now: datetime | None = None) -> Issuance:
    """Forward the pending credits by the allocation table: each share's whole number of credits
    (largest remainder, in table order) goes to the organisation's holding account, or to its
    cancellation account for a share of proceeds or overall mitigation (domain.md §4.4)."""
    ensure_open()
    lock(issuance)
    if not policies.can_forward(actor, issuance):
        raise NotAllowed("Only the programme's registry administrator forwards issuance.")
    if issuance.status is not IssuanceStatus.issued:
        raise RegistryRefusal(f"{issuance.label} is already forwarded.", code="already_forwarded")
    table = allocation_table(issuance.programme)
    if not table:
        raise RegistryRefusal(
            f"{issuance.programme.reference} has no allocation table yet.", code="no_allocation_table"
        )
    now = now or utcnow()
    # The pending account is the owner: by the split rule it keeps the first sub-block and each
    # recipient receives the last one, so shares take serials from the top down.
    stack = list(
        db.session.scalars(
            sa.select(CreditBlock)
            .where(
                CreditBlock.issuance_id == issuance.id, CreditBlock.account_id == issuance.pending_account_id
            )
            .order_by(CreditBlock.vintage, CreditBlock.serial_start)
            .with_for_update()
        )
    )
    ensure_none_frozen(stack)
    sites = preload_sites(stack)  # held for the serials in the events below
    quantities = serials.apportion(issuance.credits, [share.share_percent for share in table])
    for share, quantity in zip(table, quantities, strict=True):
        kind = (
            AccountKind.holding
            if share.destination is AllocationDestination.holding
            else AccountKind.cancellation
        )
        destination = account_of(share.organisation_id, kind)
        while quantity:
            block = stack[-1]
            moved = split_block(block, min(quantity, block.quantity))
            if moved is block:
                stack.pop()
            moved.account_id = destination.id
            if kind is AccountKind.cancellation:
                moved.status = BlockStatus.cancelled
            db.session.flush()
            db.session.add(
                ledger_entry(
                    LedgerKind.forward if kind is AccountKind.holding else LedgerKind.cancellation,
                    moved,
                    issuance.pending_account_id,
                    destination.id,
                    actor,
                    now,
                    issuance_id=issuance.id,
                )
            )
            emit(
                "forward" if kind is AccountKind.holding else "cancellation",
                programme_id=issuance.programme_id,
                issuance=issuance.label,
                to_account=destination.number,
                holder=share.organisation.name,
                **block_payload(moved),
            )
            quantity -= moved.quantity
    del sites
    issuance.status = IssuanceStatus.forwarded
    issuance.forwarded_by_id, issuance.forwarded_at = actor.id, now
    db.session.flush()
    audit.record(
        "registry.forwarded",
        actor=actor,
        entity_type="issuance",
        entity_id=issuance.id,
        after={
            "shares": [[s.organisation_id, s.destination, q] for s, q in zip(table, quantities, strict=True)]
        },
    )
    return issuance


def issuance_of(request: IssuanceRequest, *, actor: User) -> Issuance | None:
    """The issuance made from `request`, if the actor may see it."""
    return db.session.scalar(policies.visible_issuances(actor).where(Issuance.request_id == request.id))


def list_issuances(*, actor: User) -> sa.Select[tuple[Issuance]]:
    return policies.visible_issuances(actor)


def get_issuance(issuance_id: int, *, actor: User) -> Issuance:
    return one_or_not_found(
        policies.visible_issuances(actor).where(Issuance.id == issuance_id), "No such issuance."
    )
