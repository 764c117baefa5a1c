"""Unit-of-work events the ledger publishes (handled by higher domains, same transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LowBalancesNoticed:
    """Wallets crossed below their low-balance threshold (rows as written to the notices
    table: id, account_id, transaction_id, threshold_micros, balance_micros)."""

    notices: Sequence[dict[str, Any]]
