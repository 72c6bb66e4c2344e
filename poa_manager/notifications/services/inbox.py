"""Writing notifications (respecting each user's preferences) and reading one's own inbox:
list, unread count, mark read, preferences per category."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput
from poa_manager.notifications import catalogue, policies
from poa_manager.notifications.models import EmailStatus, Notification, NotificationPreference

# Whether an e-mail server is configured (POA_SMTP_HOST), set when the app is built
# (notifications/views.py). Without one no e-mail is queued, so nothing waits or fails.
_email = {"enabled": False}
# Where the audit subscriber (services/handover.py) keeps what one transaction already read.
STATE_KEY = "notifications.batch"


def configure_email(*, enabled: bool) -> None:
    _email["enabled"] = bool(enabled)


def email_enabled() -> bool:
    return _email["enabled"]


@dataclass(frozen=True)
class Choice:
    """One user's wish for one category; no stored row means both on."""

    in_app: bool = True
    email: bool = True


def choices_of(user_ids: Iterable[int]) -> dict[int, dict[str, Choice]]:
    """The stored preferences of several users at once: user id → category → Choice."""
    ids = sorted(set(user_ids))
    found: dict[int, dict[str, Choice]] = {user_id: {} for user_id in ids}
    if ids:
        rows = db.session.scalars(
            sa.select(NotificationPreference).where(NotificationPreference.user_id.in_(ids))
        )
        for row in rows:
            found[row.user_id][row.category] = Choice(row.in_app, row.email)
    return found


def notify(
    user_id: int,
    *,
    category: str,
    subject: str,
    body: str = "",
    link: str | None = None,
    entity_type: str | None = None,
    entity_id: object | None = None,
    audit_seq: int | None = None,
    choice: Choice | None = None,
) -> Notification | None:
    """Add one notification for one user in the caller's transaction, unless the user switched the
    category off in the app; e-mail is queued when wanted and a server is configured.

    `choice` saves the lookup when the caller already loaded the user's preferences.
    """
    if category not in catalogue.BY_KEY:
        raise ValueError(f"Unknown notification category {category!r}")
    if choice is None:
        choice = choices_of([user_id])[user_id].get(category, Choice())
    if not choice.in_app:
        return None
    notification = Notification(
        user_id=user_id,
        category=category,
        subject=catalogue.clip(subject, catalogue.SUBJECT_MAX),
        body=catalogue.clip(body, catalogue.BODY_MAX),
        link=link,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        audit_seq=audit_seq,
        created_at=utcnow(),
        email_status=EmailStatus.pending if choice.email and email_enabled() else EmailStatus.not_sent,
    )
    db.session.add(notification)
    return notification


# --- the inbox ----------------------------------------------------------------------------------


def list_notifications(actor: User, *, unread_only: bool = False) -> sa.Select[tuple[Notification]]:
    """The actor's notifications, newest first; only the unread ones when asked."""
    query = policies.visible_notifications(actor)
    return query.where(Notification.read_at.is_(None)) if unread_only else query


def unread_count(actor: User) -> int:
    """One COUNT on the (user_id, read_at) index."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
    )


def get_notification(notification_id: int, *, actor: User) -> Notification:
    """One of the actor's notifications; another person's is not found (404), never forbidden."""
    query = policies.visible_notifications(actor).where(Notification.id == notification_id)
    return one_or_not_found(query, f"No notification {notification_id}.")


def mark_read(notification: Notification, *, actor: User, now: datetime | None = None) -> Notification:
    """Mark one of the actor's notifications read (again: a no-op)."""
    notification = get_notification(notification.id, actor=actor)  # the scope, whatever the caller did
    if notification.read_at is None:
        notification.read_at = now or utcnow()
        db.session.flush()
    return notification


def mark_all_read(*, actor: User, now: datetime | None = None) -> int:
    """Mark every unread notification of the actor read; returns how many were unread."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=now or utcnow()),
        execution_options={"synchronize_session": False},
    )
    db.session.expire_all()  # loaded notifications show their new read_at
    return result.rowcount


# --- preferences --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    category: str
    label: str
    recipients: str
    in_app: bool
    email: bool


def preferences(actor: User) -> list[Preference]:
    """Every category of the catalogue with the actor's choice (both on unless switched off)."""
    stored = choices_of([actor.id])[actor.id]
    shown = []
    for category in catalogue.CATEGORIES:
        choice = stored.get(category.key, Choice())
        shown.append(
            Preference(category.key, category.label, category.recipients, choice.in_app, choice.email)
        )
    return shown


def set_preferences(*, actor: User, choices: Mapping[str, Mapping[str, bool]]) -> list[Preference]:
    """Set in-app and e-mail on or off per category ({category: {"in_app": …, "email": …}});
    categories left out keep their setting. Raises InvalidInput for an unknown category."""
    unknown = sorted(set(choices) - set(catalogue.BY_KEY))
    if unknown:
        raise InvalidInput(
            "Unknown notification categories.", errors={"preferences": [f"Unknown: {', '.join(unknown)}."]}
        )
    stored = {
        row.category: row
        for row in db.session.scalars(
            sa.select(NotificationPreference).where(NotificationPreference.user_id == actor.id)
        )
    }
    before = {c.category: (c.in_app, c.email) for c in preferences(actor)}
    for category, wish in choices.items():
        row = stored.get(category)
        if row is None:
            row = NotificationPreference(user_id=actor.id, category=category, in_app=True, email=True)
            db.session.add(row)
        if "in_app" in wish:
            row.in_app = bool(wish["in_app"])
        if "email" in wish:
            row.email = bool(wish["email"])
    db.session.flush()
    db.session.info.pop(STATE_KEY, None)  # the subscriber's cached choices are stale now
    after = preferences(actor)
    changed = {
        p.category: {"in_app": p.in_app, "email": p.email}
        for p in after
        if before[p.category] != (p.in_app, p.email)
    }
    if changed:
        audit.record(
            "notification.preferences_changed",
            actor=actor,
            entity_type="user",
            entity_id=actor.id,
            after=changed,
        )
    return after
