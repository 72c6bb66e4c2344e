"""Mail settings as POA_* variables arrive (parsed as JSON; poa_manager.smtp), and a notice's message."""

from poa_manager import smtp
from poa_manager.notifications import mail
from poa_manager.notifications.services import OutgoingEmail


def test_no_host_means_no_mail():
    assert not smtp.settings_from({}).configured
    assert not smtp.settings_from({"SMTP_HOST": "  "}).configured


def test_settings_tolerate_json_parsed_values():
    settings = smtp.settings_from(
        {
            "SMTP_HOST": "smtp.example.org",
            "SMTP_PORT": 2525,
            "SMTP_PASSWORD": 123456,
            "SMTP_STARTTLS": "false",
        }
    )
    assert settings.configured and settings.port == 2525
    assert settings.password == "123456" and settings.starttls is False and settings.ssl is False


def test_message_has_subject_recipient_text_and_absolute_link():
    settings = smtp.settings_from(
        {"SMTP_HOST": "h", "MAIL_FROM": "reg@x.test", "MAIL_BASE_URL": "https://poa.test/"}
    )
    email = OutgoingEmail(
        7, "ana@x.test", "TX-000001: transfer completed", "Serials JCM-VN-1-10", "/registry/"
    )
    message = mail.message_for(email, settings)
    assert message["To"] == "ana@x.test" and message["From"] == "reg@x.test"
    assert message["Subject"] == "[poa_manager] TX-000001: transfer completed"
    assert (
        "Serials JCM-VN-1-10" in message.get_content()
        and "https://poa.test/registry/" in message.get_content()
    )
