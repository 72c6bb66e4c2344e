"""Article 6.2: the host Party's authorization, authorized units, first transfer with its
corresponding adjustment, uses and cancellations, ITMO identifiers and the AEF report
(domain.md §5; quality.md A1 #11, T9)."""

import re
from datetime import UTC, date, datetime

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, NotFound
from poa_manager.programmes.models import Programme
from poa_manager.registry import serials
from poa_manager.registry.models import (
    Account,
    Article6Action,
    Article6ActionType,
    Article6Use,
    Authorization,
    AuthorizationPurpose,
    AuthorizationStatus,
    BlockStatus,
    CorrespondingAdjustment,
    CreditBlock,
    FirstTransferDefinition,
    Transaction,
    TransactionKind,
)
from poa_manager.registry.services.blocks import split_block
from poa_manager.registry.services.controls import RegistryRefusal, ensure_none_frozen, ensure_open
from poa_manager.registry.services.events import block_payload, emit

CA_PATTERN = re.compile(r"^CA\d{4}$")  # cooperative-approach IDs in CARP (domain.md §5.3, [S])
_REGISTRY_ID = ["POAM"]  # the originating registry's ID in ITMO identifiers; see configure_registry


def configure_registry(registry_id: str) -> None:
    """Set the originating registry ID from configuration (POA_REGISTRY_ID), e.g. "JCMVN"."""
    if not re.fullmatch(r"[A-Za-z0-9]{2,20}", registry_id or ""):
        raise ValueError(f"POA_REGISTRY_ID {registry_id!r} must be 2–20 letters and digits")
    _REGISTRY_ID[0] = registry_id.upper()


def registry_id() -> str:
    return _REGISTRY_ID[0]


# --- who ----------------------------------------------------------------------------------------


def is_host_government(actor: User, programme: Programme) -> bool:
    """A person of the host Party's government (OrganisationKind.host_government, same country)."""
    organisation = actor.organisation
    return (
        actor.is_active
        and organisation.kind is OrganisationKind.host_government
        and (organisation.country_code or "").upper() == programme.host_country.upper()
    )


def _party_of(account: Account) -> str | None:
    return (account.organisation.country_code or "").upper() or None


# --- authorization ------------------------------------------------------------------------------


def record_authorization(
    programme: Programme,
    *,
    actor: User,
    reference: str,
    cooperative_approach: str,
    purposes: list[str],
    first_transfer_definition: FirstTransferDefinition,
    quantity_tco2e: int,
    vintage_first: int,
    vintage_last: int,
    sector: str,
    activity_type: str,
    authorized_on: date,
    using_parties: list[str] | None = None,
    using_entities: list[dict] | None = None,
) -> Authorization:
    """The host government records its letter of authorization for the programme's outcomes."""
    if not is_host_government(actor, programme):
        raise NotAllowed(f"Only the government of {programme.host_country} authorizes its outcomes.")
    errors: dict[str, list[str]] = {}
    reference = (reference or "").strip()
    if not reference:
        errors["reference"] = ["The letter of authorization's reference."]
    if not CA_PATTERN.fullmatch(cooperative_approach or ""):
        errors["cooperative_approach"] = ["CA followed by four digits, e.g. CA0001."]
    try:
        purpose_set = sorted({AuthorizationPurpose(p).value for p in purposes or []})
    except ValueError:
        purpose_set = []
    if not purpose_set:
        errors["purposes"] = ["One or more of ndc, oimp, other."]
    if not isinstance(quantity_tco2e, int) or quantity_tco2e < 1:
        errors["quantity_tco2e"] = ["A whole number of tCO2e, at least 1."]
    if not 1990 <= vintage_first <= vintage_last <= 2100:
        errors["vintage_last"] = ["Vintages from first to last, e.g. 2025–2030."]
    parties = sorted({(p or "").strip().upper() for p in using_parties or [] if (p or "").strip()})
    if any(not re.fullmatch(r"[A-Z]{2}", p) for p in parties):
        errors["using_parties"] = ["Two-letter country codes."]
    entities = [
        {"name": (e.get("name") or "").strip(), "country": (e.get("country") or "").strip().upper()}
        for e in using_entities or []
        if (e.get("name") or "").strip()
    ]
    if not (sector or "").strip() or not (activity_type or "").strip():
        errors["sector"] = ["Sector and activity type are reported in the AEF."]
    if errors:
        raise InvalidInput("Check the authorization.", errors=errors)
    version = 1 + (
        db.session.scalar(
            sa.select(sa.func.max(Authorization.version)).where(
                Authorization.authorizing_party == programme.host_country.upper(),
                Authorization.reference == reference,
            )
        )
        or 0
    )
    authorization = Authorization(
        programme_id=programme.id,
        authorizing_party=programme.host_country.upper(),
        reference=reference,
        version=version,
        cooperative_approach=cooperative_approach,
        purposes=purpose_set,
        first_transfer_definition=first_transfer_definition,
        quantity_tco2e=quantity_tco2e,
        vintage_first=vintage_first,
        vintage_last=vintage_last,
        using_parties=parties,
        using_entities=entities,
        sector=sector.strip(),
        activity_type=activity_type.strip(),
        authorized_on=authorized_on,
        recorded_by_id=actor.id,
    )
    db.session.add(authorization)
    db.session.flush()
    audit.record(
        "registry.authorization_recorded",
        actor=actor,
        entity_type="authorization",
        entity_id=authorization.id,
        after={"reference": authorization.label, "quantity_tco2e": quantity_tco2e, "purposes": purpose_set},
    )
    emit(
        "authorization",
        programme_id=programme.id,
        authorization=authorization.label,
        cooperative_approach=cooperative_approach,
        quantity_tco2e=quantity_tco2e,
        vintages=[vintage_first, vintage_last],
    )
    return authorization


def authorized_so_far(authorization: Authorization) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Article6Action.quantity), 0)).where(
                Article6Action.authorization_id == authorization.id,
                Article6Action.action_type == Article6ActionType.authorization,
            )
        )
    )


def authorize_units(
    authorization: Authorization, *, actor: User, quantity: int, now: datetime | None = None
) -> list[CreditBlock]:
    """Apply the authorization to the programme's unauthorized active units of its vintages, in
    serial order, up to `quantity` (and never beyond the authorized quantity). Under the
    "authorization" definition they first transfer at once."""
    ensure_open()
    lock(authorization)
    if not is_host_government(actor, authorization.programme):
        raise NotAllowed("Only the host government applies its authorization.")
    remaining = authorization.quantity_tco2e - authorized_so_far(authorization)
    if not isinstance(quantity, int) or not 1 <= quantity <= remaining:
        raise InvalidInput(
            f"Authorize 1 to {remaining} tCO2e more.", errors={"quantity": [f"1 to {remaining}."]}
        )
    return _authorize(authorization, quantity, now=now or utcnow())


def _eligible_blocks(authorization: Authorization) -> list[CreditBlock]:
    return list(
        db.session.scalars(
            sa.select(CreditBlock)
            .where(
                CreditBlock.programme_id == authorization.programme_id,
                CreditBlock.vintage.between(authorization.vintage_first, authorization.vintage_last),
                CreditBlock.status == BlockStatus.active,
                CreditBlock.reserved_by_id.is_(None),
                CreditBlock.authorization_status == AuthorizationStatus.mitigation_outcome,
            )
            .order_by(CreditBlock.vintage, CreditBlock.serial_start)
            .with_for_update()
        )
    )


def _authorize(authorization: Authorization, quantity: int, *, now: datetime) -> list[CreditBlock]:
    done, needed, available = [], [], 0
    for block in _eligible_blocks(authorization):
        if available >= quantity:
            break
        needed.append(block)
        available += block.quantity
    ensure_none_frozen(needed)
    for block in needed:
        # Authorizing part of a block splits it like a transfer (domain.md §5.5): the first
        # sub-block stays unauthorized, the last one carries the authorization.
        block = split_block(block, min(quantity, block.quantity))
        block.authorization_id = authorization.id
        block.authorization_status = AuthorizationStatus.authorized
        db.session.flush()
        _action(Article6ActionType.authorization, block, authorization, now=now)
        quantity -= block.quantity
        done.append(block)
        if authorization.first_transfer_definition is FirstTransferDefinition.authorization:
            first_transfer(block, trigger=FirstTransferDefinition.authorization, now=now)
    if quantity:
        raise RegistryRefusal(
            f"Only {sum(b.quantity for b in done)} unauthorized units of vintages "
            f"{authorization.vintage_first}–{authorization.vintage_last} are available.",
            code="not_enough_units",
        )
    return done


def on_issuance(blocks: list[CreditBlock], *, now: datetime) -> None:
    """Under the "issuance" definition, newly issued units of an authorization's vintages are
    authorized and first transferred at issuance, while the authorized quantity lasts."""
    if not blocks:
        return
    authorizations = db.session.scalars(
        sa.select(Authorization)
        .where(
            Authorization.programme_id == blocks[0].programme_id,
            Authorization.first_transfer_definition == FirstTransferDefinition.issuance,
        )
        .order_by(Authorization.id)
    ).all()
    for authorization in authorizations:
        remaining = authorization.quantity_tco2e - authorized_so_far(authorization)
        eligible = sum(
            b.quantity
            for b in blocks
            if authorization.vintage_first <= b.vintage <= authorization.vintage_last
            and b.authorization_status is AuthorizationStatus.mitigation_outcome
        )
        if remaining > 0 and eligible:
            authorized = _authorize(authorization, min(remaining, eligible), now=now)
            for block in authorized:
                first_transfer(block, trigger=FirstTransferDefinition.issuance, now=now)


def first_transfer(
    block: CreditBlock, *, trigger: FirstTransferDefinition, now: datetime, transaction=None
) -> None:
    """The units become ITMOs: the corresponding adjustment is recorded for the host Party, once
    (domain.md §5.5: at first transfer only; later transfers are plain transfers)."""
    authorization = block.authorization
    block.authorization_status = AuthorizationStatus.first_transferred
    db.session.add(
        CorrespondingAdjustment(
            authorization_id=authorization.id,
            party=authorization.authorizing_party,
            vintage=block.vintage,
            serial_start=block.serial_start,
            serial_end=block.serial_end,
            quantity=block.quantity,
            trigger=trigger,
            recorded_at=now,
        )
    )
    acquiring = _party_of(transaction.to_account) if transaction is not None else None
    _action(
        Article6ActionType.first_transfer,
        block,
        authorization,
        now=now,
        transferring_party=authorization.authorizing_party,
        acquiring_party=acquiring,
        first=True,
        transaction=transaction,
    )
    emit(
        "first_transfer",
        programme_id=block.programme_id,
        itmo_first=itmo_identifier(block, block.serial_start),
        itmo_last=itmo_identifier(block, block.serial_end),
        trigger=trigger.value,
        **block_payload(block),
    )


def _action(
    action_type,
    block,
    authorization,
    *,
    now,
    transferring_party=None,
    acquiring_party=None,
    using=None,
    first=False,
    transaction=None,
) -> Article6Action:
    action = Article6Action(
        action_type=action_type,
        authorization_id=authorization.id,
        programme_id=block.programme_id,
        vintage=block.vintage,
        serial_start=block.serial_start,
        serial_end=block.serial_end,
        quantity=block.quantity,
        transferring_party=transferring_party,
        acquiring_party=acquiring_party,
        using_party_or_entity=using,
        first_transfer=first,
        transaction_id=transaction.id if transaction is not None else None,
        occurred_at=now,
    )
    db.session.add(action)
    db.session.flush()
    return action


# --- transactions on authorized units ------------------------------------------------------------

_USES = {
    TransactionKind.retirement: (Article6Use.use_ndc, Article6Use.use_oimp),
    TransactionKind.cancellation: (Article6Use.omge_cancellation, Article6Use.voluntary_cancellation),
}
_PURPOSE_OF_USE = {
    Article6Use.use_ndc: AuthorizationPurpose.ndc,
    Article6Use.use_oimp: AuthorizationPurpose.oimp,
}


def check_use(block: CreditBlock, kind: TransactionKind, use: Article6Use | None) -> None:
    """An Article 6 use must fit the transaction and the authorization's purposes."""
    if use is None:
        return
    if use not in _USES.get(kind, ()):
        raise InvalidInput(
            f"{use.label} is not a {kind.value}.", errors={"article6_use": ["Does not fit this transaction."]}
        )
    if block.authorization_status is AuthorizationStatus.mitigation_outcome:
        raise InvalidInput(
            "Only authorized units have an Article 6 use.", errors={"article6_use": ["Units not authorized."]}
        )
    purpose = _PURPOSE_OF_USE.get(use)
    if purpose is not None and purpose.value not in block.authorization.purposes:
        raise InvalidInput(
            f"The authorization does not cover {purpose.value} use.",
            errors={"article6_use": [f"Authorized for: {', '.join(block.authorization.purposes)}."]},
        )


def on_completion(transaction: Transaction, *, now: datetime) -> None:
    """Record the Article 6 side of a completed transaction of authorized units."""
    block = transaction.block
    authorization = block.authorization
    if authorization is None:
        return
    source, destination = _party_of(transaction.from_account), _party_of(transaction.to_account)
    if transaction.kind is TransactionKind.transfer:
        international = destination is not None and destination != source
        if (
            block.authorization_status is AuthorizationStatus.authorized
            and authorization.first_transfer_definition
            is FirstTransferDefinition.first_international_transfer
            and international
        ):
            first_transfer(
                block,
                trigger=FirstTransferDefinition.first_international_transfer,
                now=now,
                transaction=transaction,
            )
        elif block.authorization_status is AuthorizationStatus.first_transferred and international:
            _action(
                Article6ActionType.transfer,
                block,
                authorization,
                now=now,
                transferring_party=source,
                acquiring_party=destination,
                transaction=transaction,
            )
        return
    use = transaction.article6_use
    if use is None:
        return
    if block.authorization_status is AuthorizationStatus.authorized and use in (
        Article6Use.use_ndc,
        Article6Use.use_oimp,
    ):
        # Use or cancellation before any international transfer: OIMP units may first transfer
        # at use (decision 2/CMA.3 annex para 2, [U] exact wording).
        first_transfer(
            block, trigger=authorization.first_transfer_definition, now=now, transaction=transaction
        )
    _action(
        Article6ActionType(use.value),
        block,
        authorization,
        now=now,
        transferring_party=source,
        using=transaction.using_entity or destination,
        transaction=transaction,
    )


# --- reads --------------------------------------------------------------------------------------


def itmo_identifier(block: CreditBlock, serial: int | None = None) -> str | None:
    """The unique identifier of an authorized unit (decision 6/CMA.4 annex I; domain.md §5.3)."""
    if block.authorization is None:
        return None
    return serials.itmo_identifier(
        cooperative_approach=block.authorization.cooperative_approach,
        registry=registry_id(),
        first_transferring_party=block.authorization.authorizing_party,
        serial=serials.SerialRange(block.serial_start, block.serial_end) if serial is None else serial,
        vintage=block.vintage,
    )


def list_authorizations(programme: Programme) -> list[Authorization]:
    return list(
        db.session.scalars(
            sa.select(Authorization)
            .where(Authorization.programme_id == programme.id)
            .order_by(Authorization.id)
        )
    )


def get_authorization(authorization_id: int, *, actor: User) -> Authorization:
    """Authorizations are public record (the Article 6 database publishes them)."""
    authorization = db.session.get(Authorization, authorization_id)
    if authorization is None:
        raise NotFound("No such authorization.")
    return authorization


def authorized_blocks(authorization: Authorization) -> list[CreditBlock]:
    """The blocks carrying the authorization, in serial order."""
    return list(
        db.session.scalars(
            sa.select(CreditBlock)
            .where(CreditBlock.authorization_id == authorization.id)
            .order_by(CreditBlock.vintage, CreditBlock.serial_start)
        )
    )


def article6_actions(
    *, authorization: Authorization | None = None, block: CreditBlock | None = None
) -> list[Article6Action]:
    """The Article 6 actions of an authorization, or those covering a block's serials, oldest first."""
    query = sa.select(Article6Action).order_by(Article6Action.id)
    if authorization is not None:
        query = query.where(Article6Action.authorization_id == authorization.id)
    if block is not None:
        query = query.where(
            Article6Action.programme_id == block.programme_id,
            Article6Action.vintage == block.vintage,
            Article6Action.serial_start <= block.serial_end,
            Article6Action.serial_end >= block.serial_start,
        )
    return list(db.session.scalars(query))


def adjustments(
    party: str, *, year: int | None = None, authorization_id: int | None = None
) -> list[CorrespondingAdjustment]:
    query = sa.select(CorrespondingAdjustment).where(CorrespondingAdjustment.party == party.upper())
    if year is not None:
        query = query.where(CorrespondingAdjustment.vintage == year)
    if authorization_id is not None:
        query = query.where(CorrespondingAdjustment.authorization_id == authorization_id)
    return list(db.session.scalars(query.order_by(CorrespondingAdjustment.id)))


def end_of(year: int) -> datetime:
    return datetime(year + 1, 1, 1, tzinfo=UTC)
