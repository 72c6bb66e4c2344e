"""The registry's check catalogue: every refusal has a stable code, like the ITL's numbered
response codes (quality.md A1 #1, #5; T8). Pure: the codes and what each one means."""

CHECKS: dict[str, str] = {
    "registry_suspended": "The registry is suspended: no transaction is processed (quality.md A2, T13).",
    "serial_frozen": "The units fall in a frozen serial range (quality.md A2, lessons).",
    "self_approval": "The person who requested or initiated may not approve (quality.md A1 #6, T5).",
    "request_not_verified": "Only a request with a positive verification statement is issued.",
    "no_allocation_table": "The programme has no credit allocation table to forward by (domain.md §4.4).",
    "allocation_invalid": "Allocation shares must add up to 100 % (JCM model projects: ≥ 50 % to Japan).",
    "already_forwarded": "The issuance has already been forwarded.",
    "block_terminal": "Retired and cancelled units never move again (quality.md A1 #12, T4).",
    "block_reserved": "The units are held by an open transaction.",
    "not_transferable": "Only units in a holding account are transferred, retired or cancelled.",
    "transfer_limit_exceeded": "More than the account's per-transaction limit (quality.md A1 #9).",
    "not_yet_executable": "The account's transfer delay has not passed yet (quality.md A1 #9).",
    "transaction_not_open": "The transaction is already completed, rejected or withdrawn.",
    "not_enough_units": "Fewer unauthorized units of the authorized vintages than asked for.",
    "idempotency_key_reused": "The idempotency key was used for a different request (T3).",
}
