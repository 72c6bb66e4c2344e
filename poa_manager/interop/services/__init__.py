"""Use cases of interoperability; import them from here.

Webhooks deliver the registry's outbox (registry/services/events.py) to organisations' receivers,
signed (interop/signing.py) and retried (interop/delivery.py); the CADT export maps programmes,
sites, issuances and credit blocks to CADT's data model (interop/cadt.py).
"""

from poa_manager.interop.services.cadt import (
    ENTITIES,
    Links,
    cadt_csv,
    cadt_export,
    exportable_programmes,
    exportable_units,
    get_exportable_programme,
    project_records,
    unit_records,
)
from poa_manager.interop.services.webhooks import (
    CLAIM_LEASE,
    SETTLE_TIME,
    DeliveryRun,
    Send,
    audience_of,
    create_webhook,
    deactivate_webhook,
    deliver_due,
    due_deliveries,
    enqueue_new_events,
    get_webhook,
    list_deliveries,
    list_webhooks,
    ping_webhook,
    webhook_organisations,
)

__all__ = [
    "CLAIM_LEASE",
    "ENTITIES",
    "SETTLE_TIME",
    "DeliveryRun",
    "Links",
    "Send",
    "audience_of",
    "cadt_csv",
    "cadt_export",
    "create_webhook",
    "deactivate_webhook",
    "deliver_due",
    "due_deliveries",
    "enqueue_new_events",
    "exportable_programmes",
    "exportable_units",
    "get_exportable_programme",
    "get_webhook",
    "list_deliveries",
    "list_webhooks",
    "ping_webhook",
    "project_records",
    "unit_records",
    "webhook_organisations",
]
