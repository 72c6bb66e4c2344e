"""Who sees which notifications: each user their own, administrators included (they are personal)."""

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.notifications.models import Notification


def visible_notifications(actor: User) -> sa.Select[tuple[Notification]]:
    """The actor's own notifications, newest first; nobody reads another person's inbox."""
    return (
        sa.select(Notification)
        .where(Notification.user_id == actor.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )
