"""The entry point that sends notification e-mails, from `flask poa send-notifications` or the
worker's periodic task.

Like a view, it owns the transactions: every claim and every recorded attempt commits on its own,
so no transaction (and, on SQLite, no write lock) is held while the mail server answers.
"""

from datetime import datetime

import click
from flask import Flask, current_app
from huey import crontab
from huey.exceptions import TaskLockedException

from poa_manager import smtp, tasks
from poa_manager.database import committed_step, utcnow
from poa_manager.notifications import mail, services

BATCH = 50
MAX_BATCHES = 20


def send_notifications(app: Flask, *, now: datetime | None = None) -> services.EmailRun | None:
    """Send the due e-mails batch by batch; None when no SMTP server is configured (nothing is
    sent and nothing fails). `now` fixes the clock (tests)."""
    settings = smtp.settings_from(app.config)
    if not settings.configured:
        return None
    run = services.EmailRun()
    sender = mail.SmtpSender(settings)
    try:
        for _ in range(MAX_BATCHES):
            batch = services.send_due(now=now or utcnow(), send=sender, limit=BATCH, step=committed_step)
            run.attempted += batch.attempted
            run.sent += batch.sent
            run.retrying += batch.retrying
            run.failed += batch.failed
            if batch.attempted < BATCH:
                break
    finally:
        sender.close()
    return run


def send_notifications_command(*, retry_failed: bool = False) -> None:
    """The body of `flask poa send-notifications`: optionally re-arm failed e-mails, then send."""
    if retry_failed:
        with committed_step():
            click.echo(f"{services.retry_failed()} failed e-mails will be tried again.")
    run = send_notifications(current_app)
    if run is None:
        click.echo("No SMTP server configured (POA_SMTP_HOST): notifications stay in the app.")
        return
    click.echo(
        f"Notification e-mails: {run.attempted} attempted: {run.sent} sent, {run.retrying} to retry, "
        f"{run.failed} failed."
    )


@tasks.huey.periodic_task(crontab(minute="*"), name="notifications.send_emails")
def send_emails_every_minute() -> str:
    """The worker's (`flask poa worker`) minute job; without a worker, run `flask poa
    send-notifications` from cron instead (docs/notifications.md)."""
    app = tasks._app()
    try:
        # One run at a time: a slow mail server must not make runs pile up (claims are the backstop).
        with tasks.huey.lock_task("notifications-send-emails"), app.app_context():
            run = send_notifications(app)
    except TaskLockedException:
        return "skipped: the previous run is still sending"
    if run is None:
        return "no SMTP server configured"
    return f"{run.sent} sent, {run.retrying} to retry, {run.failed} failed"
