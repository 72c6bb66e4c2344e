"""Sending the notification outbox's e-mail (poa_manager.smtp: the POA_SMTP_* settings).

No server configured (POA_SMTP_HOST empty, the default) means no e-mail: notifications stay in
the app and nothing waits or fails.
"""

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from poa_manager.notifications.services import OutgoingEmail
from poa_manager.smtp import MailSettings, connect
from poa_manager.smtp import close as close_smtp


def message_for(email: OutgoingEmail, settings: MailSettings) -> EmailMessage:
    """The plain-text message: the notification's subject, its text and the link to the object."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = email.to
    message["Subject"] = f"[poa_manager] {email.subject}"
    message["Message-ID"] = make_msgid(idstring=f"notification-{email.notification_id}")
    link = f"{settings.base_url}{email.link}" if email.link else ""
    footer = "\n\nYou receive this because of your notification preferences in poa_manager."
    message.set_content(email.body + (f"\n\n{link}" if link else "") + footer)
    return message


class SmtpSender:
    """Sends messages over one SMTP connection, opened at the first message and kept for the run.

    A connection that could not be opened is not tried again in the same run: every message gets
    the same error as its attempt, and the next run tries afresh.
    """

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._broken: Exception | None = None

    def __call__(self, email: OutgoingEmail) -> None:
        smtp = self._connection()
        smtp.send_message(message_for(email, self.settings))

    def _connection(self) -> smtplib.SMTP:
        if self._broken is not None:
            raise self._broken
        if self._smtp is None:
            try:
                self._smtp = connect(self.settings)
            except Exception as error:
                self._broken = error
                raise
        return self._smtp

    def close(self) -> None:
        if self._smtp is not None:
            close_smtp(self._smtp)
            self._smtp = None
