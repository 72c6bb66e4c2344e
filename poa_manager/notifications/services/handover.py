"""Every hand-over between roles becomes a notification for the people who take over.

The audit log calls `on_audit_entry` inside the recording transaction (audit.services.subscribe),
so a notification commits or rolls back with the change it reports, and the lower features never
import this one. The actor is never told of their own act.

Bulk paths stay cheap: recipients are read once per programme (one query) and preferences once
per user while one transaction keeps recording; site notices of one batch are merged into one
notice per person; sites checked in the transaction that created them (a file import) are
reported once, by the import's summary.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.roles import Role
from poa_manager.audit import services as audit
from poa_manager.audit.models import AuditEntry
from poa_manager.database import db
from poa_manager.monitoring.models import IssuanceRequest, MonitoringReport, ReadingUpload
from poa_manager.notifications import catalogue
from poa_manager.notifications.catalogue import listing, plural
from poa_manager.notifications.models import Notification
from poa_manager.notifications.services.inbox import STATE_KEY, Choice, choices_of, notify
from poa_manager.programmes.models import Programme
from poa_manager.registry.models import Account, AccountKind, CreditBlock, Issuance, Transaction
from poa_manager.sites.models import Site
from poa_manager.verification.models import Verification

TRANSACTION_KINDS = ("transfer", "retirement", "cancellation")
TRANSACTION_STEPS = ("initiated", "approved", "completed", "rejected", "withdrawn")


# --- per-transaction memory ---------------------------------------------------------------------


@dataclass
class _Audience:
    """Who holds which role on one programme (active users only)."""

    by_role: dict[Role, set[int]] = field(default_factory=dict)
    operators_by_site: dict[int, set[int]] = field(default_factory=dict)

    def of(self, *roles: Role) -> set[int]:
        return set().union(*(self.by_role.get(role, set()) for role in roles))


@dataclass
class _Merged:
    """A notice that gathers one batch's sites: the notification and the lines listed so far."""

    notification: Notification
    items: list[str]


@dataclass
class _Batch:
    """What one database transaction has learnt so far (kept in the session's info)."""

    transaction: object
    last_seq: int = -1
    audiences: dict[int, _Audience] = field(default_factory=dict)
    organisations: dict[int, set[int]] = field(default_factory=dict)
    choices: dict[int, dict[str, Choice]] = field(default_factory=dict)
    created_sites: set[int] = field(default_factory=set)
    merged: dict[tuple, _Merged] = field(default_factory=dict)


def _batch(entry: AuditEntry) -> _Batch:
    transaction = db.session().get_transaction()
    batch = db.session.info.get(STATE_KEY)
    if batch is None or batch.transaction is not transaction:
        batch = _Batch(transaction=transaction)
        db.session.info[STATE_KEY] = batch
    elif entry.seq != batch.last_seq + 1:
        # Something else was recorded in between (a role granted, a team changed): read the
        # recipients afresh. A batch loop records without gaps, so it keeps its cache.
        batch.audiences.clear()
        batch.organisations.clear()
    batch.last_seq = entry.seq
    return batch


def _audience(batch: _Batch, programme_id: int) -> _Audience:
    audience = batch.audiences.get(programme_id)
    if audience is None:
        audience = _Audience()
        rows = db.session.execute(
            sa.select(Membership.user_id, Membership.role, Membership.site_id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.programme_id == programme_id, User.is_active)
        )
        for user_id, role, site_id in rows:
            audience.by_role.setdefault(role, set()).add(user_id)
            if site_id is not None:
                audience.operators_by_site.setdefault(site_id, set()).add(user_id)
        batch.audiences[programme_id] = audience
    return audience


def _people_of(batch: _Batch, organisation_id: int) -> set[int]:
    people = batch.organisations.get(organisation_id)
    if people is None:
        people = set(
            db.session.scalars(
                sa.select(User.id).where(User.organisation_id == organisation_id, User.is_active)
            )
        )
        batch.organisations[organisation_id] = people
    return people


@dataclass(frozen=True)
class _Notice:
    category: str
    subject: str
    body: str
    link: str | None
    entity_type: str | None
    entity_id: object | None


@dataclass(frozen=True)
class _Merge:
    """How a site notice joins others of the same batch: the key, its line, the batch's texts."""

    key: tuple
    item: str
    subject: Callable[[int], str]  # from the number of sites
    link: str
    entity_type: str
    entity_id: object


def _deliver(
    batch: _Batch,
    entry: AuditEntry,
    user_ids: Iterable[int],
    notice: _Notice,
    *,
    merge: _Merge | None = None,
    keep_actor: bool = False,
) -> None:
    """Notify each recipient once, never the actor (unless `keep_actor`: the verdict of a check
    that ran for them, such as a rejected upload)."""
    recipients = set(user_ids)
    if not keep_actor:
        recipients.discard(entry.actor_id)
    missing = [user_id for user_id in recipients if user_id not in batch.choices]
    if missing:
        batch.choices.update(choices_of(missing))
    for user_id in sorted(recipients):
        choice = batch.choices[user_id].get(notice.category, Choice())
        if merge is not None and _merged_into(batch, user_id, notice, merge):
            continue
        notification = notify(
            user_id,
            category=notice.category,
            subject=notice.subject,
            body=notice.body,
            link=notice.link,
            entity_type=notice.entity_type,
            entity_id=notice.entity_id,
            audit_seq=entry.seq,
            choice=choice,
        )
        if merge is not None and notification is not None:
            batch.merged[(user_id, *merge.key)] = _Merged(notification, [merge.item])


def _merged_into(batch: _Batch, user_id: int, notice: _Notice, merge: _Merge) -> bool:
    merged = batch.merged.get((user_id, *merge.key))
    if merged is None or merged.notification not in db.session:  # e.g. undone by a savepoint
        return False
    merged.items.append(merge.item)
    notification = merged.notification
    notification.subject = catalogue.clip(merge.subject(len(merged.items)), catalogue.SUBJECT_MAX)
    notification.body = catalogue.clip(listing(merged.items), catalogue.BODY_MAX)
    notification.link, notification.entity_type = merge.link, merge.entity_type
    notification.entity_id = str(merge.entity_id)
    return True


# --- sites --------------------------------------------------------------------------------------

_OUTCOMES = {"eligible": "eligible", "not_eligible": "not eligible", "needs_review": "needs review"}


def _site(entry: AuditEntry) -> Site | None:
    return db.session.get(Site, int(entry.entity_id)) if entry.entity_id else None


def _site_merge(site: Site, entry: AuditEntry, item: str, verb: str) -> _Merge:
    reference = site.programme.reference
    return _Merge(
        key=(entry.action, site.programme_id),
        item=item,
        subject=lambda count: f"{plural(count, 'site')} {verb} in {reference}",
        link=f"/programmes/{site.programme_id}/sites",
        entity_type="programme",
        entity_id=site.programme_id,
    )


def _on_site_created(entry: AuditEntry, batch: _Batch) -> None:
    if entry.entity_id:
        batch.created_sites.add(int(entry.entity_id))


def _on_site_checked(entry: AuditEntry, batch: _Batch) -> None:
    site = _site(entry)
    if site is None or site.id in batch.created_sites:
        return  # new in this transaction: nobody else knows it yet; the import's summary tells
    data = entry.data or {}
    outcome = _OUTCOMES.get(str(data.get("outcome")), str(data.get("outcome")))
    failed = data.get("failed") or []
    audience = _audience(batch, site.programme_id)
    recipients = audience.of(Role.coordinator) | audience.operators_by_site.get(site.id, set())
    notice = _Notice(
        "site_checked",
        f"{site.reference} checked: {outcome}",
        f"{site.reference} ({site.name}) of {site.programme.reference} was checked against design version "
        f"{data.get('version')}: {outcome}."
        + (f" Criteria not passed: {', '.join(map(str, failed))}." if failed else ""),
        f"/sites/{site.id}",
        "site",
        site.id,
    )
    merge = _site_merge(site, entry, f"{site.reference}: {outcome}", "checked")
    _deliver(batch, entry, recipients, notice, merge=merge)


def _on_sites_imported(entry: AuditEntry, batch: _Batch) -> None:
    data = entry.data or {}
    if "checked" not in data:
        return  # drafts only: nothing to hand over yet
    programme = db.session.get(Programme, int(entry.entity_id))
    counts = {key: value for key, value in (data.get("checked") or {}).items() if value}
    summary = ", ".join(f"{count:,} {_OUTCOMES.get(key, key)}" for key, count in sorted(counts.items()))
    notice = _Notice(
        "site_checked",
        f"{plural(int(data.get('rows') or 0), 'site')} imported into {programme.reference} and checked",
        f"{data.get('filename')}: {plural(int(data.get('rows') or 0), 'site')} imported into "
        f"{programme.reference} and checked on {data.get('checked_on')}: {summary or 'none'}.",
        f"/programmes/{programme.id}/sites",
        "programme",
        programme.id,
    )
    _deliver(batch, entry, _audience(batch, programme.id).of(Role.coordinator), notice)


_DECISIONS = {
    "site.included": "included",
    "site.inclusion_returned": "returned to draft",
    "site.put_under_review": "put under review",
    "site.review_cleared": "cleared after review",
    "site.excluded": "excluded",
}


def _on_inclusion_decided(entry: AuditEntry, batch: _Batch) -> None:
    site = _site(entry)
    if site is None:
        return
    data = entry.data or {}
    decision = _DECISIONS[entry.action]
    if entry.action == "site.included":
        detail = f"included on {site.included_on}, crediting {site.crediting_start} to {site.crediting_end}"
    elif data.get("reason"):
        detail = f"{decision}: {data['reason']}"
    else:
        detail = decision
    audience = _audience(batch, site.programme_id)
    recipients = audience.of(Role.coordinator) | audience.operators_by_site.get(site.id, set())
    notice = _Notice(
        "inclusion_decided",
        f"{site.reference} {decision}",
        f"{site.reference} ({site.name}) of {site.programme.reference}: {detail}.",
        f"/sites/{site.id}",
        "site",
        site.id,
    )
    merge = _site_merge(site, entry, f"{site.reference}: {detail}", decision)
    _deliver(batch, entry, recipients, notice, merge=merge)


def _on_inclusion_requested(entry: AuditEntry, batch: _Batch) -> None:
    site = _site(entry)
    if site is None:
        return
    notice = _Notice(
        "inclusion_to_confirm",
        f"{site.reference} awaits your confirmation of inclusion",
        f"The coordinator asked to include {site.reference} ({site.name}) in {site.programme.reference}; "
        "the programme's inclusion route needs the verifier's confirmation.",
        f"/sites/{site.id}",
        "site",
        site.id,
    )
    merge = _site_merge(site, entry, site.reference, "await your confirmation of inclusion")
    verifiers = _audience(batch, site.programme_id).of(Role.verifier)
    _deliver(batch, entry, verifiers, notice, merge=merge)


# --- readings and reports -----------------------------------------------------------------------


def _on_upload_rejected(entry: AuditEntry, batch: _Batch) -> None:
    upload = db.session.get(ReadingUpload, int(entry.entity_id))
    if upload is None:
        return
    name = upload.filename or f"upload {upload.id}"
    if entry.action == "readings.upload_failed":
        subject = f"Readings upload {name} failed"
        body = f"Checking {name} ({upload.programme.reference}) failed: {upload.failure}. Nothing was stored."
    else:
        errors = [
            f"row {e.get('row')} {e.get('column') or ''}: {e.get('message')}" for e in upload.errors[:10]
        ]
        subject = f"Readings upload {name} rejected: {plural(upload.error_count, 'error')}"
        body = (
            f"{name} ({upload.programme.reference}) has {plural(upload.error_count, 'row error')} in "
            f"{plural(upload.rows_total, 'row')}; nothing was stored. Correct the file and send it again.\n"
            + listing(errors, limit=10)
        )
    coordinators = _audience(batch, upload.programme_id).of(Role.coordinator)
    notice = _Notice(
        "upload_rejected", subject, body, f"/reading-uploads/{upload.id}", "reading_upload", upload.id
    )
    # The uploader hears of the checker's verdict even though the entry names them: a queued
    # file is checked after they left the page.
    _deliver(batch, entry, coordinators - {upload.uploaded_by_id}, notice)
    _deliver(batch, entry, {upload.uploaded_by_id}, notice, keep_actor=True)


def _on_report(entry: AuditEntry, batch: _Batch) -> None:
    report = db.session.get(MonitoringReport, int(entry.entity_id))
    if report is None:
        return
    programme = report.programme
    audience = _audience(batch, programme.id)
    period = f"{report.period_start} to {report.period_end}"
    if entry.action == "monitoring_report.opened":
        recipients = audience.of(Role.coordinator)
        subject = f"{report.label} of {programme.reference} opened for {period}"
        body = f"Monitoring report {report.label} covers {period}: {report.total_tco2e} tCO2e so far (draft)."
    else:
        recipients = audience.of(Role.coordinator, Role.registry_administrator)
        subject = f"{report.label} of {programme.reference} submitted: the period is ready"
        body = (
            f"Monitoring report {report.label} ({period}) was submitted with {report.total_tco2e} tCO2e; "
            "issuance can now be requested for it."
        )
    notice = _Notice(
        "period_ready", subject, body, f"/monitoring-reports/{report.id}", "monitoring_report", report.id
    )
    _deliver(batch, entry, recipients, notice)


def _on_request(entry: AuditEntry, batch: _Batch) -> None:
    request = db.session.get(IssuanceRequest, int(entry.entity_id))
    if request is None:
        return
    programme = request.programme
    if entry.action == "issuance.requested":
        subject = f"{request.label} of {programme.reference}: {request.credits_requested:,} credits requested"
        body = (
            f"Issuance request {request.label} of {programme.reference} ({programme.title}) claims "
            f"{request.credits_requested:,} credits; a verifier is to be assigned."
        )
    else:
        reason = (entry.data or {}).get("reason")
        subject = f"{request.label} of {programme.reference} withdrawn"
        body = f"Issuance request {request.label} was withdrawn: {reason}."
    recipients = _audience(batch, programme.id).of(Role.coordinator, Role.registry_administrator)
    notice = _Notice(
        "issuance_requested",
        subject,
        body,
        f"/issuance-requests/{request.id}",
        "issuance_request",
        request.id,
    )
    _deliver(batch, entry, recipients, notice)


# --- verification -------------------------------------------------------------------------------


def _on_verification(entry: AuditEntry, batch: _Batch) -> None:
    verification = db.session.get(Verification, int(entry.entity_id))
    if verification is None:
        return
    request, programme = verification.request, verification.programme
    team = {member.user_id for member in verification.team}
    coordinators = _audience(batch, programme.id).of(Role.coordinator)
    link = f"/verifications/{verification.id}"
    data = entry.data or {}
    what = f"{verification.label} of {request.label} ({programme.reference})"
    if entry.action == "verification.assigned":
        due = f", due on {verification.due_on}" if verification.due_on else ""
        notice = _Notice(
            "verifier_assigned",
            f"{verification.verifier_organisation.name} assigned to verify {request.label} of "
            f"{programme.reference}",
            f"{what}: {verification.verifier_organisation.name} is to verify "
            f"{request.credits_requested:,} claimed credits{due}.",
            link,
            "verification",
            verification.id,
        )
        _deliver(batch, entry, team | coordinators, notice)
    elif entry.action == "verification.team_changed":
        before = set((data.get("before") or {}).get("team") or [])
        joined = {member.user_id for member in verification.team if member.user.email not in before}
        notice = _Notice(
            "verifier_assigned",
            f"You are on the team verifying {request.label} of {programme.reference}",
            f"{what}: you were added to the verification team.",
            link,
            "verification",
            verification.id,
        )
        _deliver(batch, entry, joined, notice)
    elif entry.action == "verification.cancelled":
        notice = _Notice(
            "verifier_assigned",
            f"{verification.label} cancelled",
            f"{what} was cancelled: {data.get('reason')}. The request waits for a verifier again.",
            link,
            "verification",
            verification.id,
        )
        _deliver(batch, entry, team | coordinators, notice)
    elif entry.action == "verification.statement_drafted":
        reviewers = _people_of(batch, verification.verifier_organisation_id) - team
        notice = _Notice(
            "statement_review",
            f"Statement of {verification.label} to review",
            f"{what}: the team drafted a {verification.opinion} statement "
            f"({verification.verified_tco2e} tCO2e); someone who did not record the findings reviews "
            "and approves it.",
            link,
            "verification",
            verification.id,
        )
        _deliver(batch, entry, reviewers, notice)
    elif entry.action == "verification.statement_returned":
        notice = _Notice(
            "statement_review",
            f"Statement of {verification.label} returned",
            f"{what}: the reviewer returned the draft statement: {data.get('reason')}.",
            link,
            "verification",
            verification.id,
        )
        _deliver(batch, entry, team, notice)
    elif entry.action == "verification.statement_issued":
        positive = str(verification.opinion) == "positive"
        outcome = (
            f"positive: {verification.credits_verified:,} credits verified "
            f"({verification.verified_tco2e} tCO2e); the registry administrator can now approve the issuance"
            if positive
            else "negative: the request is returned"
        )
        notice = _Notice(
            "statement_issued",
            f"Verification statement for {request.label} of {programme.reference} issued",
            f"{what}: {verification.verifier_organisation.name} issued a {outcome}.",
            f"/issuance-requests/{request.id}",
            "issuance_request",
            request.id,
        )
        recipients = _audience(batch, programme.id).of(Role.coordinator, Role.registry_administrator)
        _deliver(batch, entry, recipients, notice)


# --- registry -----------------------------------------------------------------------------------


def _block_lines(query: sa.Select, limit: int = catalogue.LISTED_ITEMS) -> tuple[list[str], int, int]:
    """The first `limit` blocks' readable serials, how many blocks, and how many credits."""
    ordered = query.order_by(CreditBlock.vintage, CreditBlock.serial_start)
    blocks = db.session.scalars(ordered.limit(limit)).all()
    found = query.order_by(None).subquery()
    count, credits = db.session.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(found.c.serial_end - found.c.serial_start + 1), 0)
        )
    ).one()
    lines = [f"{block.serial} ({block.quantity:,})" for block in blocks]
    if count > limit:
        lines.append(f"… and {count - limit:,} more blocks")
    return lines, int(count), int(credits)


def _project(programme: Programme) -> str:
    return f"{programme.reference} ({programme.title})"


def _on_issued(entry: AuditEntry, batch: _Batch) -> None:
    issuance = db.session.get(Issuance, int(entry.entity_id))
    if issuance is None:
        return
    programme = issuance.programme
    lines, blocks, credits = _block_lines(
        sa.select(CreditBlock).where(CreditBlock.issuance_id == issuance.id)
    )
    notice = _Notice(
        "credits_issued",
        f"{issuance.label}: {credits:,} credits issued for {programme.reference}",
        f"Issuance {issuance.label} of {_project(programme)} approved on {issuance.approved_at:%Y-%m-%d}: "
        f"{credits:,} credits in {plural(blocks, 'block')} in the pending account, to be forwarded by "
        "the allocation table. Serial ranges:\n" + "\n".join(lines),
        f"/registry/issuances/{issuance.id}",
        "issuance",
        issuance.id,
    )
    recipients = _audience(batch, programme.id).of(Role.coordinator) | {issuance.requested_by_id}
    _deliver(batch, entry, recipients, notice)


def _on_forwarded(entry: AuditEntry, batch: _Batch) -> None:
    issuance = db.session.get(Issuance, int(entry.entity_id))
    if issuance is None:
        return
    programme = issuance.programme
    day = f"{issuance.forwarded_at:%Y-%m-%d}" if issuance.forwarded_at else ""
    of_issuance = sa.select(CreditBlock).where(CreditBlock.issuance_id == issuance.id)
    accounts = db.session.scalars(
        sa.select(Account)
        .where(Account.id.in_(of_issuance.with_only_columns(CreditBlock.account_id).distinct()))
        .where(Account.kind != AccountKind.pending)
        .order_by(Account.id)
    ).all()
    shares = []
    for account in accounts:
        lines, blocks, credits = _block_lines(of_issuance.where(CreditBlock.account_id == account.id))
        shares.append(f"{credits:,} to {account.number} ({account.label})")
        # The CDM registry's forwarding notice: quantity, transaction number, date, project and the
        # serial range(s) (quality.md A1 #4).
        notice = _Notice(
            "credits_forwarded",
            f"{credits:,} credits of {programme.reference} forwarded to {account.number}",
            f"Forwarding of issuance {issuance.label} on {day}: {credits:,} credits of {_project(programme)} "
            f"into {account.number} ({account.label}), {plural(blocks, 'block')}. Serial ranges:\n"
            + "\n".join(lines),
            f"/registry/accounts/{account.id}",
            "issuance",
            issuance.id,
        )
        _deliver(batch, entry, _people_of(batch, account.organisation_id), notice)
    notice = _Notice(
        "credits_forwarded",
        f"{issuance.label} of {programme.reference} forwarded",
        f"Issuance {issuance.label} of {_project(programme)} was forwarded on {day} by the allocation "
        "table:\n" + listing(shares),
        f"/registry/issuances/{issuance.id}",
        "issuance",
        issuance.id,
    )
    _deliver(batch, entry, _audience(batch, programme.id).of(Role.coordinator), notice)


def _on_transaction(entry: AuditEntry, batch: _Batch) -> None:
    transaction = db.session.get(Transaction, int(entry.entity_id))
    if transaction is None:
        return
    step = entry.action.rsplit("_", 1)[1]
    kind = transaction.kind.value
    block, programme = transaction.block, transaction.programme
    source, destination = transaction.from_account, transaction.to_account
    holders = _people_of(batch, source.organisation_id)
    moved = (
        f"{kind} {transaction.label} of {transaction.quantity:,} credits of {_project(programme)}, "
        f"serials {block.serial}, from {source.number} ({source.label}) to {destination.number} "
        f"({destination.label})"
    )
    link = f"/registry/transactions/{transaction.id}"
    if step == "initiated":
        administrators = _audience(batch, programme.id).of(Role.registry_administrator)
        notice = _Notice(
            "transaction_to_approve",
            f"{transaction.label}: {kind} of {transaction.quantity:,} credits awaits approval",
            f"The {moved} was initiated on {transaction.initiated_at:%Y-%m-%d} and needs a second "
            "person's approval.",
            link,
            "registry_transaction",
            transaction.id,
        )
        _deliver(batch, entry, holders | administrators, notice)
    elif step == "approved":
        after = transaction.executable_after
        if after is None or transaction.completed_at is not None or after <= transaction.approved_at:
            return  # no delay: it completes at once and the completion is the notice
        notice = _Notice(
            "transfer_pending",
            f"{transaction.label}: {kind} pending until {after:%Y-%m-%d %H:%M} UTC",
            f"The {moved} was approved and completes after {after:%Y-%m-%d %H:%M} UTC (the account's delay). "
            "If you did not expect it, withdraw it before then.",
            link,
            "registry_transaction",
            transaction.id,
        )
        _deliver(batch, entry, holders | {transaction.initiated_by_id}, notice)
    elif step == "completed":
        receivers = _people_of(batch, destination.organisation_id)
        category = "retirement_done" if kind == "retirement" else "credits_moved"
        extra = ""
        if kind == "retirement" and (transaction.beneficiary or transaction.purpose):
            extra = f" Beneficiary: {transaction.beneficiary or '—'}; purpose: {transaction.purpose or '—'}."
        notice = _Notice(
            category,
            f"{transaction.label}: {kind} of {transaction.quantity:,} credits completed",
            f"The {moved} completed on {transaction.completed_at:%Y-%m-%d}.{extra}",
            link,
            "registry_transaction",
            transaction.id,
        )
        _deliver(batch, entry, holders | receivers | {transaction.initiated_by_id}, notice)
    else:  # rejected or withdrawn: the units are free again in the holder's account
        notice = _Notice(
            "credits_moved",
            f"{transaction.label}: {kind} {step}",
            f"The {moved} was {step}: {transaction.closed_reason}. The units stay in {source.number}.",
            link,
            "registry_transaction",
            transaction.id,
        )
        _deliver(batch, entry, holders | {transaction.initiated_by_id}, notice)


# --- the subscription ---------------------------------------------------------------------------

HANDLERS: dict[str, Callable[[AuditEntry, _Batch], None]] = {
    "site.created": _on_site_created,
    "site.eligibility_checked": _on_site_checked,
    "sites.imported": _on_sites_imported,
    "site.inclusion_requested": _on_inclusion_requested,
    **dict.fromkeys(_DECISIONS, _on_inclusion_decided),
    "readings.upload_rejected": _on_upload_rejected,
    "readings.upload_failed": _on_upload_rejected,
    "monitoring_report.opened": _on_report,
    "monitoring_report.submitted": _on_report,
    "issuance.requested": _on_request,
    "issuance.withdrawn": _on_request,
    **dict.fromkeys(
        (
            "verification.assigned",
            "verification.team_changed",
            "verification.cancelled",
            "verification.statement_drafted",
            "verification.statement_returned",
            "verification.statement_issued",
        ),
        _on_verification,
    ),
    "registry.issued": _on_issued,
    "registry.forwarded": _on_forwarded,
    **{
        f"registry.{kind}_{step}": _on_transaction for kind in TRANSACTION_KINDS for step in TRANSACTION_STEPS
    },
}


def on_audit_entry(entry: AuditEntry) -> None:
    """The audit log's subscriber: notify the people an entry hands work or news over to."""
    handler = HANDLERS.get(entry.action)
    if handler is not None:
        handler(entry, _batch(entry))


def subscribe() -> None:
    """Listen to the hand-over actions (idempotent: the app factory may run many times)."""
    audit.subscribe(on_audit_entry, actions=tuple(HANDLERS))
