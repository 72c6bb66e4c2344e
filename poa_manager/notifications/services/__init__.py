"""Use cases of notifications; import them from here.

The audit subscriber (handover.py) turns hand-overs into notifications in the change's own
transaction; the inbox (inbox.py) lists and marks them and keeps preferences; the outbox
(outbox.py) sends the pending e-mails later.
"""

from poa_manager.notifications.services.handover import on_audit_entry, subscribe
from poa_manager.notifications.services.inbox import (
    Choice,
    Preference,
    configure_email,
    email_enabled,
    get_notification,
    list_notifications,
    mark_all_read,
    mark_read,
    notify,
    preferences,
    set_preferences,
    unread_count,
)
from poa_manager.notifications.services.outbox import (
    EmailRun,
    OutgoingEmail,
    Send,
    due_emails,
    retry_failed,
    send_due,
)

__all__ = [
    "Choice",
    "EmailRun",
    "OutgoingEmail",
    "Preference",
    "Send",
    "configure_email",
    "due_emails",
    "email_enabled",
    "get_notification",
    "list_notifications",
    "mark_all_read",
    "mark_read",
    "notify",
    "on_audit_entry",
    "preferences",
    "retry_failed",
    "send_due",
    "set_preferences",
    "subscribe",
    "unread_count",
]
