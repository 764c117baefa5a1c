"""Usage queries: records, price overrides and rollups (`records`); read-only sums over the
ledger, packages and pool tables for statements, forecasts and economics (`ledger`).

Import as `from spectra.usage import repository`.
"""

from spectra.usage.repository.ledger import (
    accounts_of_kinds,
    allowance_accounts,
    cached_balances,
    find_owned_account,
    movements,
    owned_account_ids,
    posted_before,
    singleton_movements,
    statement_entries,
    usage_outflow,
    usage_tokens,
)
from spectra.usage.repository.records import (
    all_overrides,
    groups,
    insert_records,
    long_prompt_records,
    members_of,
    overrides_for,
    page_usage,
    pool_accounts,
    rollup_sums,
    usage_query,
)

__all__ = [
    "accounts_of_kinds",
    "all_overrides",
    "allowance_accounts",
    "cached_balances",
    "find_owned_account",
    "groups",
    "insert_records",
    "long_prompt_records",
    "members_of",
    "movements",
    "overrides_for",
    "owned_account_ids",
    "page_usage",
    "pool_accounts",
    "posted_before",
    "rollup_sums",
    "singleton_movements",
    "statement_entries",
    "usage_outflow",
    "usage_query",
    "usage_tokens",
]
