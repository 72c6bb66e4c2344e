"""SMTP settings and connections from the POA_SMTP_* settings, for every e-mail the app sends.

Two features send mail: notifications (the outbox) and accounts (the password-reset link, sent at
once). accounts sits below notifications in the layers, so both use this module. Standard library
only; no server configured (POA_SMTP_HOST empty, the default) means no e-mail.
"""

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

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


def connect(settings: MailSettings) -> smtplib.SMTP:
    """An open, logged-in connection: implicit TLS, or STARTTLS unless switched off."""
    if settings.ssl:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout_seconds,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
    if settings.username:
        smtp.login(settings.username, settings.password)
    return smtp


def close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a connection the server already dropped is simply closed."""
    try:
        smtp.quit()
    except smtplib.SMTPException:
        smtp.close()
    except OSError:
        pass
