"""Signed webhooks for registry events against a real receiver on 127.0.0.1: what is sent (serial
ranges, transaction ids, signatures), retries with backoff, deactivation, scoping, idempotence."""

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from poa_manager.audit.models import AuditEntry
from poa_manager.database import db, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, NotFound, RuleViolation
from poa_manager.interop import services
from poa_manager.interop.http import UrllibSender
from poa_manager.interop.models import DeliveryStatus, WebhookDelivery
from poa_manager.registry import services as registry_services
from poa_manager.registry.models import AccountKind, CreditBlock, RegistryEvent, TransactionKind
from poa_manager.registry.services.events import EVENT_KINDS


def issue(registry, make_verified):
    """Approve and forward three sites' credits (361 in all) by the allocation table."""
    request = make_verified([Decimal("100.5"), Decimal("120.5"), Decimal("140.5")])
    issuance = registry_services.approve_issuance(request, actor=registry.admin)
    registry_services.forward_issuance(issuance, actor=registry.admin)
    return issuance


def transfer_to_buyer(registry, quantity: int):
    """The participant moves `quantity` units to the buyer; a colleague approves (four eyes)."""
    account = registry_services.account_of(registry.participant.id, AccountKind.holding)
    block = db.session.scalars(registry_services.holdings(account)).first()
    buyer = registry_services.account_of(registry.buyer.id, AccountKind.holding)
    transaction = registry_services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.transfer, quantity=quantity, to_account_id=buyer.id
    )
    registry_services.approve_transaction(transaction, actor=registry.trader_colleague)
    return transaction


def subscribe(receiver, actor, path="/hook", kinds=EVENT_KINDS, **extra):
    endpoint, secret = services.create_webhook(
        actor=actor, url=receiver.endpoint_url(path), event_kinds=list(kinds), **extra
    )
    receiver.secrets[path] = secret
    return endpoint


def deliveries_of(endpoint) -> list[WebhookDelivery]:
    return list(
        db.session.scalars(
            sa.select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id)
            .execution_options(populate_existing=True)
        )
    )


def test_issuance_and_transfer_events_arrive_signed_with_serial_ranges_and_ids(
    registry, make_verified, allocation, receiver, send
):
    endpoint = subscribe(receiver, registry.trader, kinds=["issuance", "transfer"])
    issuance = issue(registry, make_verified)
    transaction = transfer_to_buyer(registry, 10)
    now = utcnow()

    assert services.enqueue_new_events(now=now) == 2  # its two forwarding events are not subscribed
    run = services.deliver_due(now=now, send=send)

    assert (run.attempted, run.delivered, run.retrying, run.failed) == (2, 2, 0, 0)
    assert len(receiver.requests) == 2 and all(r.signature_valid for r in receiver.requests)
    issued_event = receiver.events("issuance")[0]
    assert set(issued_event) == {"id", "kind", "occurred_at", "programme_id", "payload"}
    assert issued_event["programme_id"] == issuance.programme_id
    assert issued_event["payload"]["issuance"] == issuance.label  # the transaction id of an issuance
    assert [(b["serial_start"], b["serial_end"]) for b in issued_event["payload"]["blocks"]] == [
        (1, 101),
        (102, 221),
        (222, 361),
    ]
    assert all(
        b["serial"].endswith(f"{b['serial_start']:09d}-{b['serial_end']:09d}")
        for b in issued_event["payload"]["blocks"]
    )
    moved = transaction.block
    transfer_event = receiver.events("transfer")[0]["payload"]
    assert transfer_event["transaction"] == transaction.label
    assert (transfer_event["serial_start"], transfer_event["serial_end"]) == (
        moved.serial_start,
        moved.serial_end,
    )
    assert transfer_event["serial"] == moved.serial and transfer_event["quantity"] == 10

    deliveries = deliveries_of(endpoint)
    assert [d.status for d in deliveries] == [DeliveryStatus.delivered] * 2
    assert [r.header("X-PoA-Delivery") for r in receiver.requests] == [str(d.id) for d in deliveries]
    assert {r.header("X-PoA-Timestamp") for r in receiver.requests} == {str(int(now.timestamp()))}
    assert all(d.attempts == 1 and d.last_status_code == 200 and d.delivered_at == now for d in deliveries)


def test_a_receiver_failing_once_gets_the_event_again_after_the_backoff(
    registry, make_verified, allocation, receiver, send
):
    endpoint = subscribe(receiver, registry.trader, kinds=["issuance"])
    issue(registry, make_verified)
    receiver.answer(500, 200)
    now = utcnow()
    services.enqueue_new_events(now=now)

    first = services.deliver_due(now=now, send=send)
    [delivery] = deliveries_of(endpoint)
    assert (first.attempted, first.retrying) == (1, 1)
    assert delivery.status is DeliveryStatus.pending and delivery.attempts == 1
    assert (delivery.last_status_code, delivery.last_error) == (500, "HTTP 500 Internal Server Error")
    assert delivery.next_attempt_at == now + timedelta(minutes=1)

    assert services.deliver_due(now=now + timedelta(seconds=59), send=send).attempted == 0  # not yet due
    second = services.deliver_due(now=now + timedelta(minutes=1), send=send)

    [delivery] = deliveries_of(endpoint)
    assert second.delivered == 1 and delivery.status is DeliveryStatus.delivered and delivery.attempts == 2
    assert len(receiver.requests) == 2 and receiver.requests[0].body == receiver.requests[1].body
    attempts = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "webhook.delivery_attempted", AuditEntry.entity_id == str(delivery.id)
        )
    ).all()
    assert [(a.data["attempt"], a.data["status_code"], a.data["outcome"]) for a in attempts] == [
        (1, 500, "pending"),
        (2, 200, "delivered"),
    ]


def test_after_eight_failed_attempts_the_delivery_is_failed(
    registry, make_verified, allocation, receiver, send
):
    endpoint = subscribe(receiver, registry.trader, kinds=["issuance"])
    issue(registry, make_verified)
    receiver.answer(*[503] * 8)
    now = utcnow()
    services.enqueue_new_events(now=now)
    waits = []
    for _ in range(8):
        assert services.deliver_due(now=now, send=send).attempted == 1
        [delivery] = deliveries_of(endpoint)
        if delivery.next_attempt_at is not None:
            waits.append(delivery.next_attempt_at - now)
            now = delivery.next_attempt_at
    assert waits == [timedelta(minutes=2**n) for n in range(7)]  # 1, 2, 4 … 64 minutes
    assert delivery.status is DeliveryStatus.failed and delivery.attempts == 8
    assert services.deliver_due(now=now + timedelta(days=1), send=send).attempted == 0
    assert len(receiver.requests) == 8


def test_a_receiver_that_cannot_be_reached_is_retried(registry, make_verified, allocation, receiver):
    endpoint = subscribe(receiver, registry.trader, kinds=["issuance"])
    issue(registry, make_verified)
    now = utcnow()
    services.enqueue_new_events(now=now)

    def broken(request):
        raise ConnectionResetError("peer reset")

    assert services.deliver_due(now=now, send=broken).retrying == 1
    [delivery] = deliveries_of(endpoint)
    assert delivery.last_status_code is None and delivery.last_error == "ConnectionResetError: peer reset"


def test_deactivated_endpoints_get_nothing(registry, make_verified, allocation, receiver, send):
    before = subscribe(receiver, registry.trader, path="/before")
    during = subscribe(receiver, registry.trader, path="/during")
    services.deactivate_webhook(before, actor=registry.trader, now=utcnow())
    issue(registry, make_verified)
    now = utcnow()
    assert services.enqueue_new_events(now=now) == 3  # the issuance and the two forwards to it, for /during
    assert deliveries_of(before) == []

    services.deactivate_webhook(during, actor=registry.trader_colleague, now=now)
    assert services.deliver_due(now=now, send=send).attempted == 0
    assert receiver.requests == []
    assert {(d.status, d.last_error) for d in deliveries_of(during)} == {
        (DeliveryStatus.failed, "endpoint deactivated")
    }
    assert services.enqueue_new_events(now=now + timedelta(hours=1)) == 0
    with pytest.raises(RuleViolation):
        services.ping_webhook(during, actor=registry.trader, now=now, send=send)


def test_enqueueing_twice_creates_nothing_new(registry, make_verified, allocation, receiver):
    endpoint = subscribe(receiver, registry.trader)
    issue(registry, make_verified)
    now = utcnow()
    assert services.enqueue_new_events(now=now) == 3  # the issuance and the two forwards to it
    assert services.enqueue_new_events(now=now) == 0
    endpoint.last_event_id = 0  # even a cursor moved back: the unique key holds
    assert services.enqueue_new_events(now=now) == 0
    assert len(deliveries_of(endpoint)) == 3


def test_the_cursor_moves_only_past_settled_events(registry, make_verified, allocation, receiver):
    endpoint = subscribe(receiver, registry.trader)
    start = endpoint.last_event_id
    issue(registry, make_verified)
    newest = db.session.scalar(sa.select(sa.func.max(RegistryEvent.id)))
    services.enqueue_new_events(now=utcnow())
    assert endpoint.last_event_id == start  # too young: read again next time
    services.enqueue_new_events(now=utcnow() + services.SETTLE_TIME + timedelta(seconds=1))
    assert endpoint.last_event_id == newest


def test_a_new_endpoint_gets_only_events_after_it_was_registered(
    registry, make_verified, allocation, receiver
):
    issue(registry, make_verified)
    endpoint = subscribe(receiver, registry.trader)
    assert services.enqueue_new_events(now=utcnow()) == 0 and deliveries_of(endpoint) == []


def test_each_organisation_receives_only_what_it_may_see(
    world, registry, make_verified, allocation, receiver, send
):
    participant = subscribe(receiver, registry.trader, path="/participant")
    outsider = subscribe(receiver, world.outsider, path="/outsider")  # coordinator of another programme
    buyer = subscribe(receiver, registry.buyer_user, path="/buyer")  # holds an account, no membership
    japan = subscribe(receiver, registry.admin, path="/japan", organisation_id=registry.japan.id)
    authority = subscribe(receiver, registry.admin, path="/authority")  # the registry administrators
    issue(registry, make_verified)
    transfer_to_buyer(registry, 5)
    services.enqueue_new_events(now=utcnow())

    def kinds(endpoint):
        return sorted(d.event.kind for d in deliveries_of(endpoint))

    # The registry's own notification rule (registry/services/events.py events_for): a programme's
    # members hear of its issuances; forwards and trades reach the accounts they move units to or from.
    assert kinds(participant) == ["forward", "forward", "issuance", "transfer"]
    assert kinds(outsider) == []
    assert kinds(buyer) == ["transfer"]  # its own account received units
    assert kinds(japan) == ["forward", "forward"]  # forwarded to its account (no membership)
    assert kinds(authority) == ["forward"] * 5 + ["issuance", "transfer"]  # registry administrators
    assert services.deliver_due(now=utcnow(), send=send).delivered == 4 + 1 + 2 + 7
    assert all(r.signature_valid for r in receiver.requests)


def test_another_organisations_endpoint_is_not_found(world, registry, receiver):
    endpoint = subscribe(receiver, registry.trader)
    for stranger in (world.outsider, registry.buyer_user, world.verifier):
        with pytest.raises(NotFound):
            services.get_webhook(endpoint.id, actor=stranger)
        assert endpoint.id not in {e.id for e in db.session.scalars(services.list_webhooks(stranger))}
    assert services.get_webhook(endpoint.id, actor=registry.trader_colleague) is endpoint  # same organisation
    for administrator in (world.admin, registry.admin):
        assert services.get_webhook(endpoint.id, actor=administrator) is endpoint


def test_only_administrators_register_endpoints_for_other_organisations(world, registry, receiver):
    with pytest.raises(NotAllowed):
        subscribe(receiver, registry.trader, organisation_id=registry.buyer.id)
    endpoint = subscribe(receiver, world.admin, organisation_id=registry.buyer.id)
    assert endpoint.organisation_id == registry.buyer.id
    with pytest.raises(NotAllowed):
        services.deactivate_webhook(endpoint, actor=registry.trader, now=utcnow())


@pytest.mark.parametrize(
    ("url", "kinds", "field"),
    [
        ("ftp://example.org/hook", ["issuance"], "url"),
        ("file:///etc/passwd", ["issuance"], "url"),
        ("https://example.org/hook", [], "event_kinds"),
        ("https://example.org/hook", ["issuance", "minting"], "event_kinds"),
    ],
)
def test_bad_urls_and_kinds_are_refused(registry, url, kinds, field):
    with pytest.raises(InvalidInput) as refused:
        services.create_webhook(actor=registry.trader, url=url, event_kinds=kinds)
    assert field in refused.value.errors


def test_the_secret_is_returned_once_and_never_audited(registry, receiver):
    endpoint, secret = services.create_webhook(
        actor=registry.trader, url=receiver.endpoint_url(), event_kinds=["transfer", "issuance"]
    )
    assert secret.startswith("whsec_") and endpoint.secret == secret
    assert endpoint.event_kinds == ["issuance", "transfer"]  # in the registry's order
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "webhook.created"))
    assert secret not in str(entry.data) and entry.entity_id == str(endpoint.id)


def test_a_delivery_being_sent_is_not_sent_again_by_a_second_runner(
    registry, make_verified, allocation, receiver, send
):
    subscribe(receiver, registry.trader, kinds=["issuance"])
    issue(registry, make_verified)
    now = utcnow()
    services.enqueue_new_events(now=now)
    inner = []

    def send_while_another_runner_runs(request):
        inner.append(services.deliver_due(now=now, send=send))  # claimed: not due for it
        return send(request)

    assert services.deliver_due(now=now, send=send_while_another_runner_runs).delivered == 1
    assert inner[0].attempted == 0 and len(receiver.requests) == 1


def test_a_test_event_is_signed_and_audited(registry, receiver, send):
    endpoint = subscribe(receiver, registry.trader)
    response = services.ping_webhook(endpoint, actor=registry.trader, now=utcnow(), send=send)
    assert response.ok and receiver.requests[0].signature_valid
    assert receiver.requests[0].header("X-PoA-Event") == "ping"
    assert receiver.requests[0].event["payload"]["endpoint"] == endpoint.label
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "webhook.pinged")) is not None


def test_the_default_sender_refuses_loopback_and_does_not_follow_redirects(registry, receiver, send):
    endpoint = subscribe(receiver, registry.trader)
    refused = services.ping_webhook(endpoint, actor=registry.trader, now=utcnow(), send=UrllibSender())
    assert not refused.ok and "non-public address 127.0.0.1" in refused.error and receiver.requests == []
    receiver.answer(302)
    redirected = services.ping_webhook(endpoint, actor=registry.trader, now=utcnow(), send=send)
    assert redirected.status_code == 302 and not redirected.ok and len(receiver.requests) == 1


def test_blocks_are_untouched_by_webhooks(registry, make_verified, allocation, receiver, send):
    subscribe(receiver, registry.trader)
    issue(registry, make_verified)
    blocks_before = db.session.execute(sa.select(CreditBlock.id, CreditBlock.account_id)).all()
    services.enqueue_new_events(now=utcnow())
    services.deliver_due(now=utcnow(), send=send)
    assert db.session.execute(sa.select(CreditBlock.id, CreditBlock.account_id)).all() == blocks_before
    assert registry_services.reconcile().clean
