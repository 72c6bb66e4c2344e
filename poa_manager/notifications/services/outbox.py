"""The e-mail outbox: notifications whose e-mail is pending are sent by a job after their change
committed, retried with backoff (catalogue.retry_delay), then marked failed with the error kept.
The in-app notification stays whatever happens to its e-mail."""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.database import db
from poa_manager.notifications import catalogue
from poa_manager.notifications.models import EmailStatus, Notification


@dataclass(frozen=True)
class OutgoingEmail:
    """What the sender needs, nothing from the database."""

    notification_id: int
    to: str
    subject: str
    body: str
    link: str | None


Send = Callable[[OutgoingEmail], None]  # raises when the message was not accepted
Step = Callable[[], AbstractContextManager]


@dataclass
class EmailRun:
    attempted: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """Pending, and never tried or its retry delay has passed since the last attempt."""
    waited = [
        (
            Notification.email_attempts == n,
            sa.literal(now - catalogue.retry_delay(n), Notification.emailed_at.type),
        )
        for n in range(1, catalogue.MAX_EMAIL_ATTEMPTS)
    ]
    return sa.and_(
        Notification.email_status == EmailStatus.pending,
        sa.or_(
            Notification.emailed_at.is_(None),
            Notification.emailed_at <= sa.case(*waited, else_=sa.literal(now, Notification.emailed_at.type)),
        ),
    )


def due_emails(*, now: datetime, limit: int) -> list[int]:
    """Ids of notifications whose e-mail is due, oldest first."""
    return list(
        db.session.scalars(sa.select(Notification.id).where(_due(now)).order_by(Notification.id).limit(limit))
    )


def send_due(*, now: datetime, send: Send, limit: int = 100, step: Step = nullcontext) -> EmailRun:
    """Send every due e-mail (up to `limit`) and record each attempt.

    `step` wraps each database step; the job passes one that commits (notifications/jobs.py), so
    no transaction stays open while the mail server answers.
    """
    run = EmailRun()
    with step():
        ids = due_emails(now=now, limit=limit)
    for notification_id in ids:
        with step():
            email = _claim(notification_id, now=now)
        if email is None:
            continue  # another runner took it meanwhile
        try:
            send(email)
            error = None
        except Exception as problem:  # any refusal is this attempt's error; the run goes on
            error = f"{type(problem).__name__}: {problem}"
        with step():
            status = _record_attempt(notification_id, error)
        run.attempted += 1
        if status is EmailStatus.sent:
            run.sent += 1
        elif status is EmailStatus.failed:
            run.failed += 1
        else:
            run.retrying += 1
    return run


def _claim(notification_id: int, *, now: datetime) -> OutgoingEmail | None:
    """Count the attempt with one conditional UPDATE, so two runners never send the same e-mail
    at once; emailed_at is the last attempt's time until it is sent."""
    claimed = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id, _due(now))
        .values(email_attempts=Notification.email_attempts + 1, emailed_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:
        return None
    row = db.session.execute(
        sa.select(Notification.subject, Notification.body, Notification.link, User.email)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id == notification_id)
    ).one()
    return OutgoingEmail(notification_id, row.email, row.subject, row.body, row.link)


def _record_attempt(notification_id: int, error: str | None) -> EmailStatus:
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    if error is None:
        notification.email_status, notification.email_error = EmailStatus.sent, None
    else:
        notification.email_error = catalogue.clip(error, catalogue.ERROR_MAX)
        if catalogue.is_final_failure(notification.email_attempts):
            notification.email_status = EmailStatus.failed
    db.session.flush()
    return notification.email_status


def retry_failed() -> int:
    """Give failed e-mails a fresh set of attempts (after the mail server is repaired)."""
    return db.session.execute(
        sa.update(Notification)
        .where(Notification.email_status == EmailStatus.failed)
        .values(email_status=EmailStatus.pending, email_attempts=0, emailed_at=None),
        execution_options={"synchronize_session": False},
    ).rowcount
