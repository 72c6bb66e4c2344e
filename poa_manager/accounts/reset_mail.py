"""The password-reset e-mail, sent at once over SMTP with the POA_SMTP_* settings (poa_manager.smtp,
shared with the notification outbox). The link is never queued or stored in plain text: only its
hash is in the database.
"""

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid

from poa_manager import smtp


def reset_email_configured(config: Mapping) -> bool:
    """E-mailed links need a server and POA_MAIL_BASE_URL: a link built from the request's Host
    header could be pointed at an attacker's site (password-reset poisoning)."""
    settings = smtp.settings_from(config)
    return settings.configured and bool(settings.base_url)


def reset_link(config: Mapping, path: str) -> str:
    return smtp.settings_from(config).base_url + path


def send_reset_email(config: Mapping, *, to: str, link: str, minutes: int) -> None:
    settings = smtp.settings_from(config)
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = "[poa_manager] Reset your password"
    message["Message-ID"] = make_msgid(idstring="password-reset")
    message.set_content(
        "Someone asked to reset the password of your poa_manager account.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n"
        "It works once. If you did not ask for it, ignore this e-mail: your password stays as it is.\n"
    )
    connection = smtp.connect(settings)
    try:
        connection.send_message(message)
    finally:
        smtp.close(connection)
