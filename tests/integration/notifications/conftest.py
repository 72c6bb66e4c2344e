"""What the notification tests start from: the registered programme with a second coordinator,
the verifiers and the registry of the other features' fixtures, and an inbox reader."""

import pytest
import sqlalchemy as sa

from poa_manager.accounts.roles import Role
from poa_manager.database import db as _db
from poa_manager.notifications import services
from poa_manager.notifications.models import Notification
from tests.factories import MembershipFactory, UserFactory
from tests.integration.monitoring.conftest import make_crediting_site, monitored, operator_of  # noqa: F401
from tests.integration.registry.conftest import allocation, issued, make_verified, registry  # noqa: F401
from tests.integration.sites.conftest import make_site, registered  # noqa: F401
from tests.integration.verification.conftest import verifiers  # noqa: F401


def inbox(user, category: str | None = None) -> list[Notification]:
    """The user's notifications, oldest first (optionally of one category)."""
    query = sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if category:
        query = query.where(Notification.category == category)
    return list(_db.session.scalars(query.execution_options(populate_existing=True)))


@pytest.fixture
def colleague(world, registered):  # noqa: F811
    """A second coordinator of the programme, of the same coordinating entity."""
    user = UserFactory(organisation=world.coordinator.organisation, full_name="Cora Colleague")
    MembershipFactory(user=user, programme=registered, role=Role.coordinator)
    return user


@pytest.fixture
def email_on():
    """As if POA_SMTP_HOST were set when the app was built: wanted e-mails are queued."""
    services.configure_email(enabled=True)
    yield
    services.configure_email(enabled=False)
