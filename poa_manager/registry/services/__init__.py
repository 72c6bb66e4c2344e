"""Use cases of the registry; import them from here.

The rules: domain.md §4.4 (JCM registry operations and allocation), §5 (Article 6.2), §6.3
(serials) and quality.md A1–A3 (what registries promise, the check catalogue, T1–T13). The serial
arithmetic is in `serials`, the refusal codes in `checks`.
"""

from poa_manager.registry.services.controls import (
    RegistryRefusal,
    ensure_not_frozen,
    ensure_open,
    freeze_range,
    get_freeze,
    lift_freeze,
    list_freezes,
    registry_switch,
    set_suspension,
)
from poa_manager.registry.services.holdings import (
    account_of,
    get_account,
    held_quantity,
    holding_accounts,
    holdings,
    ledger_balance,
    list_accounts,
    open_account,
    set_account_controls,
)
from poa_manager.registry.services.issuance import (
    JCM_MODEL_PROJECT_MIN_JAPAN_PERCENT,
    allocation_table,
    approve_issuance,
    awaiting_issuance,
    forward_issuance,
    get_issuance,
    list_issuances,
    positive_verification,
    set_allocation_table,
    split_block,
)
from poa_manager.registry.services.lookup import (
    BlockHistory,
    history_of,
    lookup_serial,
    public_csv,
    serial_of,
)
from poa_manager.registry.services.reconcile import Reconciliation, reconcile
from poa_manager.registry.services.transactions import (
    approve_transaction,
    complete_due_transactions,
    complete_transaction,
    get_block,
    get_transaction,
    initiate_transaction,
    list_transactions,
    reject_transaction,
    withdraw_transaction,
)

__all__ = [
    "JCM_MODEL_PROJECT_MIN_JAPAN_PERCENT",
    "BlockHistory",
    "Reconciliation",
    "RegistryRefusal",
    "account_of",
    "allocation_table",
    "approve_issuance",
    "approve_transaction",
    "awaiting_issuance",
    "complete_due_transactions",
    "complete_transaction",
    "ensure_not_frozen",
    "ensure_open",
    "forward_issuance",
    "freeze_range",
    "get_account",
    "get_block",
    "get_freeze",
    "get_issuance",
    "get_transaction",
    "held_quantity",
    "history_of",
    "holding_accounts",
    "holdings",
    "initiate_transaction",
    "ledger_balance",
    "lift_freeze",
    "list_accounts",
    "list_freezes",
    "list_issuances",
    "list_transactions",
    "lookup_serial",
    "open_account",
    "positive_verification",
    "public_csv",
    "reconcile",
    "registry_switch",
    "reject_transaction",
    "serial_of",
    "set_account_controls",
    "set_allocation_table",
    "set_suspension",
    "split_block",
    "withdraw_transaction",
]
