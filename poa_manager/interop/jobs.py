"""The entry point that delivers webhooks, from `flask poa deliver-webhooks` or the worker's
periodic task.

Like a view, it owns the transactions: enqueueing commits once, then every claim and every
recorded attempt commits on its own, so no transaction (and, on SQLite, no write lock) is held
while a receiver takes its time to answer.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from huey import crontab
from huey.exceptions import TaskLockedException

from poa_manager import tasks
from poa_manager.database import committed_step, utcnow
from poa_manager.interop import services
from poa_manager.interop.http import DEFAULT_TIMEOUT_SECONDS, UrllibSender

BATCH = 20  # a fresh `now` (the signed timestamp) for every batch keeps signatures current
MAX_BATCHES = 50


@dataclass
class WebhookRun:
    enqueued: int
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def sender_for(app: Flask, *, timeout_seconds: float | None = None) -> UrllibSender:
    """The HTTP sender the settings describe: POA_WEBHOOK_TIMEOUT_SECONDS (default 10) and
    POA_WEBHOOK_ALLOW_PRIVATE_ADDRESSES (default false: refuse loopback and private networks)."""
    return UrllibSender(
        timeout_seconds=timeout_seconds
        or float(app.config.get("WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)),
        allow_private_addresses=bool(app.config.get("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False)),
    )


def run_webhooks(*, send: services.Send, now: datetime | None = None) -> WebhookRun:
    """Enqueue new registry events, then deliver what is due, batch by batch, committing as it goes.
    `now` fixes the clock (tests); by default each batch reads it afresh."""
    with committed_step():
        run = WebhookRun(enqueued=services.enqueue_new_events(now=now or utcnow()))
    for _ in range(MAX_BATCHES):
        batch = services.deliver_due(now=now or utcnow(), send=send, limit=BATCH, step=committed_step)
        run.attempted += batch.attempted
        run.delivered += batch.delivered
        run.retrying += batch.retrying
        run.failed += batch.failed
        if batch.attempted < BATCH:
            break
    return run


@tasks.huey.periodic_task(crontab(minute="*"), name="interop.deliver_webhooks")
def deliver_webhooks_every_minute() -> str:
    """The worker's (`flask poa worker`) minute job. Without a worker, run `flask poa
    deliver-webhooks` from cron instead (docs/interoperability.md)."""
    app = tasks._app()  # the worker's app, built once per process (as process_upload does)
    try:
        # One run at a time: a slow receiver must not make runs pile up (claims are the backstop).
        with tasks.huey.lock_task("interop-deliver-webhooks"), app.app_context():
            run = run_webhooks(send=sender_for(app))
    except TaskLockedException:
        return "skipped: the previous run is still delivering"
    return f"{run.enqueued} enqueued, {run.delivered} delivered, {run.retrying} to retry, {run.failed} failed"
