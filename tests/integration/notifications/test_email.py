"""E-mail from the outbox through a real SMTP server on 127.0.0.1 (aiosmtpd): what arrives, retries
with backoff while the server is down, then failed with the error kept; nothing without a server."""

import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from poa_manager.database import db, utcnow
from poa_manager.notifications import catalogue, jobs, services
from poa_manager.notifications.models import EmailStatus
from poa_manager.registry import services as registry_services
from poa_manager.registry.models import AccountKind, TransactionKind
from tests.integration.notifications.conftest import inbox


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """The SMTP server's handler: keeps every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def mail_config(app):
    """POA_SMTP_* for the job, restored afterwards."""
    saved = {key: app.config.get(key) for key in ("SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS", "MAIL_FROM")}

    def point_at(host: str, port: int):
        app.config.update(SMTP_HOST=host, SMTP_PORT=port, SMTP_STARTTLS=False, MAIL_FROM="registry@poa.test")

    yield point_at
    app.config.update(saved)


def _completed_transfer(registry):
    account = registry_services.account_of(registry.participant.id, AccountKind.holding)
    block = db.session.scalars(registry_services.holdings(account)).first()
    buyer = registry_services.account_of(registry.buyer.id, AccountKind.holding)
    transaction = registry_services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.transfer, quantity=10, to_account_id=buyer.id
    )
    registry_services.approve_transaction(transaction, actor=registry.trader_colleague)
    return transaction


def test_a_transfer_notice_arrives_by_email_with_its_serial_range(
    app, registry, issued, email_on, smtp_server, mail_config
):
    controller, server = smtp_server
    mail_config(controller.hostname, controller.port)
    transaction = _completed_transfer(registry)
    [notice] = inbox(registry.buyer_user, "credits_moved")
    assert notice.email_status is EmailStatus.pending
    db.session.commit()

    run = jobs.send_notifications(app)

    assert run.failed == 0 and run.sent == run.attempted >= 1
    [(recipients, message)] = [m for m in server.messages if m[0] == [registry.buyer_user.email]]
    assert message["To"] == registry.buyer_user.email and message["From"] == "registry@poa.test"
    assert message["Subject"] == f"[poa_manager] {transaction.label}: transfer of 10 credits completed"
    text = message.get_content()
    assert transaction.block.serial in text and f"/registry/transactions/{transaction.id}" in text
    [notice] = inbox(registry.buyer_user, "credits_moved")
    assert notice.email_status is EmailStatus.sent and notice.email_attempts == 1 and notice.emailed_at

    assert jobs.send_notifications(app).attempted == 0  # sent once, never again


def test_a_mail_server_that_is_down_is_retried_with_backoff_then_given_up(app, world, email_on, mail_config):
    mail_config("127.0.0.1", _free_port())  # nothing listens there
    notice = services.notify(
        world.coordinator.id, category="credits_moved", subject="Moved", body="Serials X"
    )
    db.session.commit()
    now = utcnow()

    for attempt in range(1, catalogue.MAX_EMAIL_ATTEMPTS + 1):
        run = jobs.send_notifications(app, now=now)
        assert run.attempted == 1, attempt
        assert jobs.send_notifications(app, now=now).attempted == 0  # not due again before the delay
        if attempt < catalogue.MAX_EMAIL_ATTEMPTS:
            now += catalogue.retry_delay(attempt)

    [kept] = inbox(world.coordinator)
    assert kept.id == notice.id and kept.email_status is EmailStatus.failed
    assert kept.email_attempts == catalogue.MAX_EMAIL_ATTEMPTS
    assert "ConnectionRefusedError" in kept.email_error
    assert kept.read_at is None and kept.subject == "Moved"  # the in-app notice is untouched
    assert jobs.send_notifications(app, now=now + timedelta(days=1)).attempted == 0

    assert services.retry_failed() == 1  # after the server is repaired: `--retry-failed`
    assert inbox(world.coordinator)[0].email_status is EmailStatus.pending


def test_without_a_mail_server_nothing_is_sent_and_nothing_fails(app, world, email_on, runner):
    app.config["SMTP_HOST"] = ""
    services.notify(world.coordinator.id, category="credits_moved", subject="Moved")
    db.session.commit()
    assert jobs.send_notifications(app) is None
    result = runner.invoke(args=["poa", "send-notifications"])
    assert result.exit_code == 0 and "No SMTP server configured" in result.output
    [kept] = inbox(world.coordinator)
    assert kept.email_status is EmailStatus.pending and kept.email_attempts == 0


def test_the_command_sends_and_reports(app, world, email_on, smtp_server, mail_config, runner):
    controller, server = smtp_server
    mail_config(controller.hostname, controller.port)
    services.notify(world.coordinator.id, category="credits_issued", subject="Issued", body="1-100")
    db.session.commit()
    result = runner.invoke(args=["poa", "send-notifications"])
    assert result.exit_code == 0, result.output
    assert "1 attempted: 1 sent, 0 to retry, 0 failed" in result.output
    assert [m[1]["Subject"] for m in server.messages] == ["[poa_manager] Issued"]
