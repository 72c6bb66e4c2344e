"""Sending e-mail through SMTP with the standard library, configured by POA_SMTP_* settings.

No server configured (POA_SMTP_HOST empty, the default) means no e-mail: notifications stay in
the app and nothing waits or fails.
"""

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from poa_manager.notifications.services import OutgoingEmail

DEFAULT_PORT = 587
DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class MailSettings:
    host: str = ""
    port: int = DEFAULT_PORT
    username: str = ""
    password: str = ""
    starttls: bool = True
    ssl: bool = False  # implicit TLS (port 465) instead of STARTTLS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    sender: str = "poa_manager@localhost"
    base_url: str = ""  # e.g. https://poa.example.org: links in e-mails become absolute

    @property
    def configured(self) -> bool:
        return bool(self.host)


def _text(value: object) -> str:
    # POA_* values are parsed as JSON, so a numeric password arrives as an int.
    return "" if value is None else str(value)


def _flag(value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def settings_from(config: Mapping) -> MailSettings:
    """The settings from the app's config: SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD,
    SMTP_STARTTLS, SMTP_SSL, SMTP_TIMEOUT_SECONDS, MAIL_FROM, MAIL_BASE_URL (each POA_…)."""
    return MailSettings(
        host=_text(config.get("SMTP_HOST")).strip(),
        port=int(config.get("SMTP_PORT") or DEFAULT_PORT),
        username=_text(config.get("SMTP_USERNAME")),
        password=_text(config.get("SMTP_PASSWORD")),
        starttls=_flag(config.get("SMTP_STARTTLS"), True),
        ssl=_flag(config.get("SMTP_SSL"), False),
        timeout_seconds=float(config.get("SMTP_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS),
        sender=_text(config.get("MAIL_FROM")) or "poa_manager@localhost",
        base_url=_text(config.get("MAIL_BASE_URL")).rstrip("/"),
    )


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
                self._smtp = self._connect()
            except Exception as error:
                self._broken = error
                raise
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.ssl:
            smtp = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
        if s.username:
            smtp.login(s.username, s.password)
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except smtplib.SMTPException:
                self._smtp.close()
            except OSError:
                pass
            self._smtp = None
