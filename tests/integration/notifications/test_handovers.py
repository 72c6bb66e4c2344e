"""Each hand-over between roles reaches the people who take over, through the real services, and
nobody else: never the actor, never another programme's people."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from poa_manager.accounts.roles import Role
from poa_manager.database import db, utcnow
from poa_manager.monitoring.models import UploadStatus
from poa_manager.notifications import services as notification_services
from poa_manager.notifications.models import EmailStatus, Notification
from poa_manager.programmes.rules import InclusionRoute
from poa_manager.registry import services as registry_services
from poa_manager.registry.models import AccountKind, CreditBlock, TransactionKind
from poa_manager.sites import importer
from poa_manager.sites import services as site_services
from tests.factories import MembershipFactory
from tests.integration.notifications.conftest import inbox

TODAY = date(2026, 11, 2)


def _everyone(world, *extra):
    return [
        world.coordinator,
        world.site_operator,
        world.verifier,
        world.registry_administrator,
        world.viewer,
        world.outsider,
        world.admin,
        *extra,
    ]


def _with_operator(site, world):
    MembershipFactory(
        user=world.site_operator, programme=site.programme, role=Role.site_operator, site_id=site.id
    )


def _new_site(make_site, registered, world, n):
    """A site made and committed, so it is not new in the transaction that checks it."""
    site = make_site(registered, n)
    db.session.commit()
    return site


def test_site_check_reaches_the_other_coordinators_and_the_sites_operator_only(
    world, registered, make_site, colleague
):
    site = _new_site(make_site, registered, world, 1)
    _with_operator(site, world)

    site_services.check_eligibility(site, actor=world.coordinator, checked_on=TODAY)

    [to_colleague] = inbox(colleague)
    assert to_colleague.category == "site_checked"
    assert to_colleague.subject == f"{site.reference} checked: eligible"
    assert to_colleague.link == f"/sites/{site.id}" and to_colleague.entity_id == str(site.id)
    assert [n.subject for n in inbox(world.site_operator)] == [f"{site.reference} checked: eligible"]
    for user in (
        world.coordinator,
        world.verifier,
        world.registry_administrator,
        world.outsider,
        world.viewer,
    ):
        assert inbox(user) == [], user.email  # the actor and people with no part in it


def test_an_operator_hears_only_of_their_own_sites(world, registered, make_site, colleague):
    mine, other = _new_site(make_site, registered, world, 1), _new_site(make_site, registered, world, 2)
    _with_operator(mine, world)

    site_services.check_eligibility(other, actor=world.coordinator, checked_on=TODAY)
    assert inbox(world.site_operator) == []
    site_services.check_eligibility(mine, actor=world.coordinator, checked_on=TODAY)
    assert [n.entity_id for n in inbox(world.site_operator)] == [str(mine.id)]


def _import_file(count: int) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=importer.TEMPLATE_COLUMNS)
    writer.writeheader()
    for n in range(count):
        row = dict.fromkeys(importer.TEMPLATE_COLUMNS, "")
        row |= {
            "reference": f"IMP-{n:04d}",
            "name": f"Imported rooftop {n}",
            "latitude": f"{10.6 + n * 0.01:.6f}",
            "longitude": "106.6",
            "technology": "solar_pv",
            "capacity_kw": "850",
            "commissioned_on": "2025-03-01",
            "equipment_serials": f"INV-I{n:05d}",
            "documents": "cpa_dd",
            "meter_1_serial": f"MTR-I{n:05d}",
            "meter_1_role": "export",
            "meter_1_accuracy_class": "0.5S",
            "meter_1_calibrated_on": "2025-02-01",
            "meter_1_calibration_valid_until": "2030-02-01",
        }
        writer.writerow(row)
    return out.getvalue().encode()


def test_a_checked_import_sends_one_summary_not_one_notice_per_site(world, registered, colleague):
    result = site_services.import_sites(
        registered, actor=world.coordinator, filename="batch.csv", data=_import_file(5), check_on=TODAY
    )
    assert result.checked["eligible"] == 5

    [summary] = inbox(colleague)
    assert summary.subject == f"5 sites imported into {registered.reference} and checked"
    assert "5 eligible" in summary.body and "batch.csv" in summary.body
    assert summary.link == f"/programmes/{registered.id}/sites"
    assert inbox(world.coordinator) == []


def test_a_batch_inclusion_is_one_notice_per_person_and_reads_recipients_once(
    world, registered, make_site, colleague
):
    registered.current_version.inclusion_route = InclusionRoute.coordinator
    sites = [_new_site(make_site, registered, world, n) for n in (1, 2, 3)]
    _with_operator(sites[0], world)
    for site in sites:
        site_services.check_eligibility(site, actor=world.coordinator, checked_on=TODAY)
    db.session.commit()
    before = {user.id: len(inbox(user)) for user in (colleague, world.site_operator)}

    statements = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine_events = db.session.get_bind()
    event.listen(engine_events, "before_cursor_execute", remember)
    try:
        site_services.include_sites(
            registered, actor=world.coordinator, site_ids=[s.id for s in sites], included_on=TODAY
        )
    finally:
        event.remove(engine_events, "before_cursor_execute", remember)

    recipient_reads = [s for s in statements if "FROM memberships JOIN users" in s]
    assert len(recipient_reads) == 1, recipient_reads  # once for the batch, not once per site
    [merged] = inbox(colleague)[before[colleague.id] :]
    assert merged.subject == f"3 sites included in {registered.reference}"
    assert all(site.reference in merged.body for site in sites)
    [own] = inbox(world.site_operator)[before[world.site_operator.id] :]
    assert own.subject == f"{sites[0].reference} included"  # only the operator's own site


def test_verifier_confirms_a_requested_inclusion_and_the_coordinators_hear_of_it(
    world, registered, make_site, colleague
):
    site = _new_site(make_site, registered, world, 1)
    site_services.check_eligibility(site, actor=world.coordinator, checked_on=TODAY)
    site_services.include_sites(registered, actor=world.coordinator, site_ids=[site.id], included_on=TODAY)

    [to_confirm] = inbox(world.verifier, "inclusion_to_confirm")
    assert to_confirm.subject == f"{site.reference} awaits your confirmation of inclusion"
    assert inbox(colleague, "inclusion_to_confirm") == []

    site_services.confirm_inclusion(site, actor=world.verifier, included_on=TODAY)
    for coordinator in (world.coordinator, colleague):
        [decided] = inbox(coordinator, "inclusion_decided")
        assert decided.subject == f"{site.reference} included"
        assert str(site.crediting_start) in decided.body
    assert inbox(world.verifier, "inclusion_decided") == []  # the actor


def test_a_rolled_back_change_leaves_no_notification(world, registered, make_site, colleague):
    site = _new_site(make_site, registered, world, 1)
    savepoint = db.session.begin_nested()
    site_services.check_eligibility(site, actor=world.coordinator, checked_on=TODAY)
    assert len(inbox(colleague)) == 1  # written with the change…
    savepoint.rollback()
    assert inbox(colleague) == []  # …and gone with it


def test_in_app_off_stores_nothing_and_email_follows_each_users_choice(
    world, registered, make_site, colleague, email_on
):
    site = _new_site(make_site, registered, world, 1)
    _with_operator(site, world)
    third = MembershipFactory(
        user__organisation=world.coordinator.organisation, programme=registered, role=Role.coordinator
    ).user
    notification_services.set_preferences(actor=colleague, choices={"site_checked": {"in_app": False}})
    notification_services.set_preferences(
        actor=world.site_operator, choices={"site_checked": {"email": False}}
    )

    site_services.check_eligibility(site, actor=world.coordinator, checked_on=TODAY)

    assert inbox(colleague) == []
    [no_mail] = inbox(world.site_operator)
    assert no_mail.email_status is EmailStatus.not_sent
    [mailed] = inbox(third)
    assert mailed.email_status is EmailStatus.pending


def test_without_a_mail_server_nothing_is_queued(world, registered, make_site, colleague):
    site = _new_site(make_site, registered, world, 1)
    site_services.check_eligibility(site, actor=world.coordinator, checked_on=TODAY)
    assert [n.email_status for n in inbox(colleague)] == [EmailStatus.not_sent]


def test_a_rejected_upload_reaches_the_uploader_and_the_coordinators(
    world, make_crediting_site, operator_of, colleague
):
    from poa_manager.monitoring import services as monitoring_services
    from poa_manager.monitoring.models import ReadingUpload

    site = make_crediting_site(1)
    operator = operator_of(site)
    upload = ReadingUpload(
        programme_id=site.programme_id,
        site_id=site.id,
        uploaded_by_id=operator.id,
        uploaded_at=utcnow(),
        source="web",
        filename="january.csv",
        content_sha256="0" * 64,
        byte_size=10,
        status=UploadStatus.processing,
        rows_total=2976,
        error_count=3,
        errors=[{"row": 11, "column": "value", "message": "negative"}],
    )
    db.session.add(upload)
    db.session.flush()
    monitoring_services.readings._audit_outcome(upload, operator, "readings.upload_rejected")

    [to_uploader] = inbox(operator)
    assert to_uploader.category == "upload_rejected"
    assert to_uploader.subject == "Readings upload january.csv rejected: 3 errors"
    assert "row 11 value: negative" in to_uploader.body
    assert to_uploader.link == f"/reading-uploads/{upload.id}"
    assert [n.subject for n in inbox(world.coordinator)] == [to_uploader.subject]
    assert [n.subject for n in inbox(colleague)] == [to_uploader.subject]
    assert inbox(world.verifier) == []


def test_the_verification_cycle_hands_over_at_each_step(world, registered, verifiers, make_verified):
    request = make_verified([Decimal("100.5"), Decimal("120.5")])

    [requested] = inbox(world.registry_administrator, "issuance_requested")
    assert requested.subject == f"{request.label} of {registered.reference}: 221 credits requested"
    [assigned] = inbox(verifiers.auditor, "verifier_assigned")  # the team
    assert "assigned to verify" in assigned.subject
    assert inbox(verifiers.reviewer, "verifier_assigned") == []  # not on the team
    [review] = inbox(verifiers.reviewer, "statement_review")  # the second pair of eyes
    assert review.subject.startswith("Statement of VER-")
    assert inbox(verifiers.auditor, "statement_review") == []  # the drafter
    assert inbox(verifiers.other_firm) == []
    for user in (world.coordinator, world.registry_administrator):
        [issued] = inbox(user, "statement_issued")
        assert "221 credits verified" in issued.body
        assert issued.link == f"/issuance-requests/{request.id}"
    assert inbox(verifiers.reviewer, "statement_issued") == []  # the approver
    assert inbox(world.outsider) == []


def test_issuance_and_forwarding_carry_the_serial_ranges(world, colleague, registry, issued):
    [approved] = inbox(world.coordinator, "credits_issued")
    assert approved.subject == f"{issued.label}: 361 credits issued for {issued.programme.reference}"
    blocks = db.session.scalars(
        sa.select(CreditBlock).where(CreditBlock.issuance_id == issued.id).order_by(CreditBlock.serial_start)
    ).all()
    participant_account = registry_services.account_of(registry.participant.id, AccountKind.holding)
    own = [b for b in blocks if b.account_id == participant_account.id]
    assert own
    [forwarded] = inbox(colleague, "credits_forwarded")[:1]
    assert forwarded.subject == (
        f"{sum(b.quantity for b in own)} credits of {issued.programme.reference} forwarded to "
        f"{participant_account.number}"
    )
    for block in own:
        assert block.serial in forwarded.body  # quality.md A1 #4: the serial range in the notice
    assert issued.label in forwarded.body and issued.programme.title in forwarded.body
    assert inbox(registry.admin, "credits_forwarded") == []  # the actor
    assert inbox(registry.buyer_user) == []


def test_a_delayed_transfer_warns_the_holder_then_reaches_both_sides(world, registry, issued):
    account = registry_services.account_of(registry.participant.id, AccountKind.holding)
    account.transfer_delay_hours = 24
    block = db.session.scalars(registry_services.holdings(account)).first()
    buyer = registry_services.account_of(registry.buyer.id, AccountKind.holding)

    transaction = registry_services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.transfer, quantity=10, to_account_id=buyer.id
    )
    [to_approve] = inbox(registry.trader_colleague, "transaction_to_approve")
    assert to_approve.subject == f"{transaction.label}: transfer of 10 credits awaits approval"
    assert len(inbox(registry.admin, "transaction_to_approve")) == 1
    assert inbox(registry.trader, "transaction_to_approve") == []  # the initiator

    registry_services.approve_transaction(transaction, actor=registry.trader_colleague)
    [pending] = inbox(registry.trader, "transfer_pending")
    assert pending.subject.startswith(f"{transaction.label}: transfer pending until ")
    assert transaction.block.serial in pending.body

    done = registry_services.complete_due_transactions(now=utcnow() + timedelta(hours=25))
    assert [t.id for t in done] == [transaction.id]
    [moved] = inbox(registry.buyer_user, "credits_moved")
    assert moved.subject == f"{transaction.label}: transfer of 10 credits completed"
    assert transaction.block.serial in moved.body and buyer.number in moved.body
    assert len(inbox(registry.trader, "credits_moved")) == 1
    assert inbox(registry.trader_colleague, "credits_moved") == []  # the approver: the entry's actor


def test_a_retirement_is_reported_as_done(world, registry, issued):
    account = registry_services.account_of(registry.participant.id, AccountKind.holding)
    block = db.session.scalars(registry_services.holdings(account)).first()
    transaction = registry_services.initiate_transaction(
        block,
        actor=registry.trader,
        kind=TransactionKind.retirement,
        quantity=5,
        beneficiary="City of Da Nang",
        purpose="2026 voluntary claim",
        using_entity="Da Nang People's Committee",
    )
    registry_services.approve_transaction(transaction, actor=registry.trader_colleague)

    [done] = inbox(registry.trader, "retirement_done")
    assert done.subject == f"{transaction.label}: retirement of 5 credits completed"
    assert "City of Da Nang" in done.body and transaction.block.serial in done.body


@pytest.mark.parametrize("action", ["reject", "withdraw"])
def test_a_refused_transaction_tells_the_initiator(world, registry, issued, action):
    account = registry_services.account_of(registry.participant.id, AccountKind.holding)
    block = db.session.scalars(registry_services.holdings(account)).first()
    buyer = registry_services.account_of(registry.buyer.id, AccountKind.holding)
    transaction = registry_services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.transfer, quantity=3, to_account_id=buyer.id
    )
    if action == "reject":
        registry_services.reject_transaction(
            transaction, actor=registry.trader_colleague, reason="Wrong buyer"
        )
        [told] = inbox(registry.trader, "credits_moved")
        assert told.subject == f"{transaction.label}: transfer rejected" and "Wrong buyer" in told.body
    else:
        registry_services.withdraw_transaction(transaction, actor=registry.trader, reason="Changed my mind")
        [told] = inbox(registry.trader_colleague, "credits_moved")
        assert told.subject == f"{transaction.label}: transfer withdrawn"
        assert inbox(registry.trader, "credits_moved") == []


def test_every_link_is_a_page_of_the_app(app, world, registry, issued):
    adapter = app.url_map.bind("localhost")
    links = db.session.scalars(sa.select(Notification.link).distinct()).all()
    assert len(links) >= 3
    for link in links:
        endpoint, _args = adapter.match(link, method="GET")
        assert endpoint.split(".")[0] in ("sites", "registry", "monitoring", "verification", "programmes")


def test_a_failed_upload_job_tells_a_coordinator_uploader_once(world, make_crediting_site, colleague):
    from poa_manager.monitoring import services as monitoring_services
    from poa_manager.monitoring.models import ReadingUpload

    site = make_crediting_site(2)
    upload = ReadingUpload(
        programme_id=site.programme_id,
        uploaded_by_id=world.coordinator.id,
        uploaded_at=utcnow(),
        source="cli",
        filename="big.csv",
        content_sha256="1" * 64,
        byte_size=10,
        status=UploadStatus.processing,
    )
    db.session.add(upload)
    db.session.flush()
    monitoring_services.fail_upload(upload, "OSError: disk full")  # recorded by the system, no actor

    [told] = inbox(world.coordinator)
    assert told.subject == "Readings upload big.csv failed" and "disk full" in told.body
    assert [n.subject for n in inbox(colleague)] == [told.subject]
