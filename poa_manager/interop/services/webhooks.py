"""Use cases for webhooks: register, list and switch off endpoints; turn the registry's outbox into
deliveries; send them signed, with retries and backoff (quality.md A1 #4)."""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from poa_manager.accounts.models import Organisation, User
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, one_or_not_found
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.interop import delivery, policies, signing
from poa_manager.interop.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from poa_manager.registry import policies as registry_policies
from poa_manager.registry.models import Account, RegistryEvent
from poa_manager.registry.services.events import EVENT_KINDS

Send = Callable[[delivery.OutgoingRequest], delivery.Response]
Step = Callable[[], AbstractContextManager]

ENQUEUE_BATCH = 500
# PostgreSQL hands out event ids when rows are inserted, not when they commit, so an event with a
# smaller id can become visible after one with a larger id. The cursor therefore only moves past
# events older than this; younger ones are read again next time and the unique key skips those
# already enqueued. (A registry transaction open longer than this could be missed; none are.)
SETTLE_TIME = timedelta(minutes=5)
# A claimed delivery is left alone by other runners for this long. If the runner dies while the
# receiver is answering, the delivery becomes due again afterwards: delivery is at least once.
CLAIM_LEASE = timedelta(minutes=5)
PING_KIND = "ping"


# --- Endpoints -----------------------------------------------------------------------------------


def list_webhooks(actor: User) -> sa.Select[tuple[WebhookEndpoint]]:
    return policies.visible_webhooks(actor)


def get_webhook(endpoint_id: int, *, actor: User) -> WebhookEndpoint:
    query = policies.visible_webhooks(actor).where(WebhookEndpoint.id == endpoint_id)
    return one_or_not_found(query, f"No webhook endpoint {endpoint_id}.")


def webhook_organisations(actor: User) -> list[Organisation]:
    """The organisations the actor may register endpoints for."""
    query = sa.select(Organisation).where(Organisation.is_active).order_by(Organisation.name)
    if not policies.sees_all_webhooks(actor):
        query = query.where(Organisation.id == actor.organisation_id)
    return list(db.session.scalars(query))


def create_webhook(
    *,
    actor: User,
    url: str,
    event_kinds: list[str],
    description: str | None = "",
    organisation_id: int | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for the actor's organisation (administrators: any organisation).

    Returns the endpoint and its signing secret; the secret is shown to the caller this once.
    Raises InvalidInput for a URL other than http(s), or unknown or no event kinds.
    """
    organisation_id = organisation_id or actor.organisation_id
    if not policies.can_manage_webhooks(actor, organisation_id):
        raise NotAllowed("You can register webhooks only for your own organisation.")
    errors: dict[str, list[str]] = {}
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not organisation.is_active:
        errors["organisation_id"] = ["No such active organisation."]
    url = delivery.normalise_url(url or "")
    if problems := delivery.url_problems(url):
        errors["url"] = problems
    kinds = set(event_kinds or ())
    if not kinds:
        errors["event_kinds"] = ["Choose at least one kind of event."]
    elif unknown := kinds - set(EVENT_KINDS):
        errors["event_kinds"] = [f"Unknown event kinds: {', '.join(sorted(unknown))}."]
    if errors:
        raise InvalidInput("The webhook endpoint cannot be registered.", errors=errors)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        organisation_id=organisation_id,
        url=url,
        description=(description or "").strip(),
        secret=secret,
        event_kinds=[kind for kind in EVENT_KINDS if kind in kinds],
        created_by_id=actor.id,
        last_event_id=db.session.scalar(sa.select(sa.func.max(RegistryEvent.id))) or 0,
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record(
        "webhook.created",
        actor=actor,
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        after={  # never the secret
            "organisation_id": organisation_id,
            "url": endpoint.url,
            "event_kinds": endpoint.event_kinds,
            "description": endpoint.description,
        },
    )
    return endpoint, secret


def deactivate_webhook(endpoint: WebhookEndpoint, *, actor: User, now: datetime) -> WebhookEndpoint:
    """Stop sending to an endpoint for good; its pending deliveries are marked failed."""
    if not policies.can_manage_webhooks(actor, endpoint.organisation_id):
        raise NotAllowed("You can switch off only your own organisation's webhooks.")
    if not endpoint.active:
        return endpoint
    endpoint.active = False
    endpoint.deactivated_at, endpoint.deactivated_by_id = now, actor.id
    cancelled = db.session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == DeliveryStatus.pending)
        .values(status=DeliveryStatus.failed, next_attempt_at=None, last_error="endpoint deactivated"),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.flush()
    audit.record(
        "webhook.deactivated",
        actor=actor,
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        data={"pending_deliveries_cancelled": cancelled},
    )
    return endpoint


def list_deliveries(endpoint: WebhookEndpoint, *, actor: User) -> sa.Select[tuple[WebhookDelivery]]:
    """An endpoint's delivery log, newest first."""
    return policies.visible_deliveries(actor).where(WebhookDelivery.endpoint_id == endpoint.id)


def ping_webhook(endpoint: WebhookEndpoint, *, actor: User, now: datetime, send: Send) -> delivery.Response:
    """Send a signed "ping" event at once, so the receiver's owner can check their set-up."""
    if not policies.can_manage_webhooks(actor, endpoint.organisation_id):
        raise NotAllowed("You can test only your own organisation's webhooks.")
    if not endpoint.active:
        raise RuleViolation(f"{endpoint.label} is switched off.", code="webhook_inactive")
    timestamp = int(now.timestamp())
    body = delivery.event_body(
        event_id=None,
        kind=PING_KIND,
        occurred_at=now,
        programme_id=None,
        payload={"endpoint": endpoint.label, "message": "A test event: nothing changed in the registry."},
    )
    request = delivery.signed_request(
        url=endpoint.url,
        secret=endpoint.secret,
        kind=PING_KIND,
        delivery_id=f"ping-{endpoint.id}-{timestamp}",
        body=body,
        timestamp=timestamp,
    )
    response = _send_safely(send, request)
    audit.record(
        "webhook.pinged",
        actor=actor,
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        data={"status_code": response.status_code, "error": response.error},
    )
    return response


# --- From the outbox to deliveries ---------------------------------------------------------------


def audience_of(organisation_id: int) -> delivery.Audience:
    """What the organisation's active people may see of the registry's events (delivery.Audience)."""
    people = db.session.scalars(
        sa.select(User)
        .where(User.organisation_id == organisation_id, User.is_active)
        .options(selectinload(User.memberships))
    ).all()
    accounts = db.session.scalars(sa.select(Account).where(Account.organisation_id == organisation_id))
    return delivery.Audience(
        programme_ids=frozenset(m.programme_id for person in people for m in person.memberships),
        account_numbers=frozenset(account.number for account in accounts),
        everything=any(registry_policies.sees_all_accounts(person) for person in people),
    )


def enqueue_new_events(*, now: datetime, batch: int = ENQUEUE_BATCH) -> int:
    """Turn the registry events after each active endpoint's cursor into pending deliveries: the
    kinds it subscribed to, of programmes and accounts its organisation may see. Idempotent (the
    unique key on endpoint and event). Returns how many deliveries were created."""
    endpoints = db.session.scalars(
        sa.select(WebhookEndpoint)
        .join(Organisation, Organisation.id == WebhookEndpoint.organisation_id)
        .where(WebhookEndpoint.active, Organisation.is_active)
        .order_by(WebhookEndpoint.id)
    ).all()
    audiences: dict[int, delivery.Audience] = {}
    created = 0
    for endpoint in endpoints:
        lock(endpoint)  # two runners do not both advance one cursor
        if not endpoint.active:
            continue
        if endpoint.organisation_id not in audiences:
            audiences[endpoint.organisation_id] = audience_of(endpoint.organisation_id)
        created += _enqueue_for(endpoint, audiences[endpoint.organisation_id], now=now, batch=batch)
    return created


def _enqueue_for(endpoint: WebhookEndpoint, audience: delivery.Audience, *, now: datetime, batch: int) -> int:
    settled_before = now - SETTLE_TIME
    cursor = after = endpoint.last_event_id
    settled, event_ids = True, []
    while True:
        events = db.session.execute(
            sa.select(
                RegistryEvent.id,
                RegistryEvent.kind,
                RegistryEvent.programme_id,
                RegistryEvent.payload,
                RegistryEvent.occurred_at,
            )
            .where(RegistryEvent.id > after)
            .order_by(RegistryEvent.id)
            .limit(batch)
        ).all()
        for event in events:
            wanted = event.kind in endpoint.event_kinds and delivery.concerns(
                audience, kind=event.kind, programme_id=event.programme_id, payload=event.payload
            )
            if wanted and _insert_delivery(endpoint.id, event.id, now=now):
                event_ids.append(event.id)
            settled = settled and event.occurred_at <= settled_before
            if settled:
                cursor = event.id
        if len(events) < batch:
            break
        after = events[-1].id
    endpoint.last_event_id = cursor
    if event_ids:
        audit.record(
            "webhook.deliveries_enqueued",
            actor=None,
            entity_type="webhook_endpoint",
            entity_id=endpoint.id,
            data={
                "deliveries": len(event_ids),
                "first_event_id": event_ids[0],
                "last_event_id": event_ids[-1],
            },
        )
    return len(event_ids)


def _insert_delivery(endpoint_id: int, event_id: int, *, now: datetime) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: whether a new delivery row was written."""
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(WebhookDelivery)
    statement = insert.values(
        endpoint_id=endpoint_id,
        event_id=event_id,
        status=DeliveryStatus.pending,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    ).on_conflict_do_nothing()
    # RETURNING, not rowcount: under psycopg 3 the rowcount of this statement is -1.
    return db.session.execute(statement.returning(WebhookDelivery.id)).first() is not None


# --- Sending -------------------------------------------------------------------------------------


@dataclass
class DeliveryRun:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def due_deliveries(*, now: datetime, limit: int) -> list[int]:
    """Ids of pending deliveries to active endpoints whose next attempt is due, oldest first."""
    return list(
        db.session.scalars(
            sa.select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == DeliveryStatus.pending,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.active,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )


def deliver_due(*, now: datetime, send: Send, limit: int = 100, step: Step = nullcontext) -> DeliveryRun:
    """POST every due delivery (up to `limit`) and record each attempt; failures are retried with
    exponential backoff (delivery.retry_delay) until the 8th attempt, then marked failed.

    `step` wraps each database step. The job passes one that commits (interop/jobs.py), so no
    transaction stays open while a receiver answers; by default everything runs in the caller's
    transaction. `now` is also the signed timestamp.
    """
    run = DeliveryRun()
    with step():
        ids = due_deliveries(now=now, limit=limit)
    for delivery_id in ids:
        with step():
            request = _claim(delivery_id, now=now)
        if request is None:
            continue  # another runner took it, or the endpoint was switched off meanwhile
        response = _send_safely(send, request)
        with step():
            status = _record_attempt(delivery_id, response, now=now)
        run.attempted += 1
        if status is DeliveryStatus.delivered:
            run.delivered += 1
        elif status is DeliveryStatus.failed:
            run.failed += 1
        else:
            run.retrying += 1
    return run


def _claim(delivery_id: int, *, now: datetime) -> delivery.OutgoingRequest | None:
    """Count the attempt and lease the delivery with one conditional UPDATE, so two runners never
    send it at the same time; the signed request to send, or None if it is not ours to send."""
    active = sa.select(WebhookEndpoint.id).where(WebhookEndpoint.active)
    claimed = db.session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.pending,
            WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.endpoint_id.in_(active),
        )
        .values(
            attempts=WebhookDelivery.attempts + 1,
            last_attempt_at=now,
            next_attempt_at=now + CLAIM_LEASE,
        ),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:
        return None
    record = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    event, endpoint = record.event, record.endpoint
    body = delivery.event_body(
        event_id=event.id,
        kind=event.kind,
        occurred_at=event.occurred_at,
        programme_id=event.programme_id,
        payload=event.payload,
    )
    return delivery.signed_request(
        url=endpoint.url,
        secret=endpoint.secret,
        kind=event.kind,
        delivery_id=str(record.id),
        body=body,
        timestamp=int(now.timestamp()),
    )


def _record_attempt(delivery_id: int, response: delivery.Response, *, now: datetime) -> DeliveryStatus:
    record = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    record.last_status_code = response.status_code
    record.last_error = None if response.ok else _error_text(response)
    if response.ok:
        record.status, record.delivered_at, record.next_attempt_at = DeliveryStatus.delivered, now, None
    elif delivery.is_final_failure(record.attempts):
        record.status, record.next_attempt_at = DeliveryStatus.failed, None
    else:
        record.next_attempt_at = now + delivery.retry_delay(record.attempts)
    db.session.flush()
    audit.record(
        "webhook.delivery_attempted",
        actor=None,
        entity_type="webhook_delivery",
        entity_id=record.id,
        data={
            "endpoint_id": record.endpoint_id,
            "event_id": record.event_id,
            "attempt": record.attempts,
            "status_code": response.status_code,
            "error": record.last_error,
            "outcome": record.status,
            "next_attempt_at": record.next_attempt_at,
        },
    )
    return record.status


def _send_safely(send: Send, request: delivery.OutgoingRequest) -> delivery.Response:
    """A sender that raises must not stop the run: the exception becomes the attempt's error."""
    try:
        return send(request)
    except Exception as error:
        return delivery.Response(error=f"{type(error).__name__}: {error}")


def _error_text(response: delivery.Response) -> str:
    text = response.error or f"HTTP {response.status_code}"
    return text[:500]
