"""Who sees which cycle times and dashboards, and who sets the service-level targets."""

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.accounts.policies import can_administer
from poa_manager.programmes.models import Programme
from poa_manager.programmes.policies import visible_programmes


def can_edit_targets(actor: User) -> bool:
    """Service-level targets are a platform setting (one set for the installation)."""
    return can_administer(actor)


def visible_programme_ids(actor: User) -> sa.Select:
    """Cycle times follow the programme: whoever sees a programme sees its requests' dates."""
    return visible_programmes(actor).with_only_columns(Programme.id).order_by(None)


def can_see_references(actor: User) -> bool:
    """Reference cycles are published facts (e.g. JCM notifications): any active account."""
    return actor.is_active
