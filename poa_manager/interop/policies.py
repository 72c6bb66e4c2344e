"""Who may register, see and switch off webhook endpoints, and which programmes one may export."""

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.accounts.policies import can_administer
from poa_manager.interop.models import WebhookDelivery, WebhookEndpoint
from poa_manager.programmes.models import Programme
from poa_manager.programmes.policies import visible_programmes
from poa_manager.registry.policies import is_registry_administrator


def sees_all_webhooks(actor: User) -> bool:
    """Platform and registry administrators look after every organisation's endpoints."""
    return actor.is_active and (can_administer(actor) or is_registry_administrator(actor))


def can_manage_webhooks(actor: User, organisation_id: int) -> bool:
    """An organisation's own people manage its endpoints; administrators manage anyone's."""
    return actor.is_active and (sees_all_webhooks(actor) or actor.organisation_id == organisation_id)


def visible_webhooks(actor: User) -> sa.Select[tuple[WebhookEndpoint]]:
    """One's own organisation's endpoints; every endpoint for administrators."""
    query = sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc())
    if sees_all_webhooks(actor):
        return query
    return query.where(WebhookEndpoint.organisation_id == actor.organisation_id)


def visible_deliveries(actor: User) -> sa.Select[tuple[WebhookDelivery]]:
    """Deliveries to the endpoints the actor may see, newest first."""
    endpoints = visible_webhooks(actor).with_only_columns(WebhookEndpoint.id).order_by(None)
    return (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id.in_(endpoints))
        .order_by(WebhookDelivery.id.desc())
    )


def exportable_programmes(actor: User) -> sa.Select[tuple[Programme]]:
    """Programmes one may export to CADT: the ones one may see."""
    return visible_programmes(actor)
