"""The password-reset e-mail, sent at once over SMTP with the POA_SMTP_* settings.

notifications.mail sends the notification outbox with the same settings, but accounts sits below
notifications in the layers (pyproject import-linter), so this small sender reads the same keys.
The link is never queued or stored in plain text: only its hash is in the database.
"""

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid


def _flag(value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def reset_email_configured(config: Mapping) -> bool:
    """E-mailed links need a server and POA_MAIL_BASE_URL: a link built from the request's Host
    header could be pointed at an attacker's site (password-reset poisoning)."""
    return bool(str(config.get("SMTP_HOST") or "").strip() and str(config.get("MAIL_BASE_URL") or "").strip())


def reset_link(config: Mapping, path: str) -> str:
    return str(config["MAIL_BASE_URL"]).rstrip("/") + path


def send_reset_email(config: Mapping, *, to: str, link: str, minutes: int) -> None:
    message = EmailMessage()
    message["From"] = str(config.get("MAIL_FROM") or "poa_manager@localhost")
    message["To"] = to
    message["Subject"] = "[poa_manager] Reset your password"
    message["Message-ID"] = make_msgid(idstring="password-reset")
    message.set_content(
        "Someone asked to reset the password of your poa_manager account.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n"
        "It works once. If you did not ask for it, ignore this e-mail: your password stays as it is.\n"
    )
    host = str(config.get("SMTP_HOST")).strip()
    port = int(config.get("SMTP_PORT") or 587)
    timeout = float(config.get("SMTP_TIMEOUT_SECONDS") or 10)
    if _flag(config.get("SMTP_SSL"), False):
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if not _flag(config.get("SMTP_SSL"), False) and _flag(config.get("SMTP_STARTTLS"), True):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("SMTP_USERNAME"):
            smtp.login(str(config["SMTP_USERNAME"]), str(config.get("SMTP_PASSWORD") or ""))
        smtp.send_message(message)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
