"""Pure posting rules: a transaction is two or more non-zero postings on distinct accounts that sum
to zero. A posting's sign is from its account's point of view: + credits it, - debits it, and an
account's balance is the plain sum of its postings (see models.py for each kind's usual sign).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from spectra.kit.money import MAX_BALANCE_MICROS, format_amount
from spectra.ledger.errors import BalanceOutOfRangeError, UnbalancedTransactionError

Posting = tuple[uuid.UUID, int]


def check_postings(postings: Sequence[Posting]) -> list[Posting]:
    """Return the postings (in the order given: funding order for usage), or raise if they do not balance."""
    if len(postings) < 2:
        raise UnbalancedTransactionError(
            "A ledger transaction needs at least two postings.", count=len(postings)
        )
    seen: set[uuid.UUID] = set()
    for account_id, amount in postings:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise UnbalancedTransactionError(
                "Posting amounts are integer micro-units.", account_id=str(account_id)
            )
        if amount == 0:
            raise UnbalancedTransactionError(
                "A posting may not be zero.", account_id=str(account_id)
            )
        if abs(amount) >= MAX_BALANCE_MICROS:
            raise BalanceOutOfRangeError(
                f"A posting may move less than {format_amount(MAX_BALANCE_MICROS)}.",
                account_id=str(account_id),
            )
        if account_id in seen:
            raise UnbalancedTransactionError(
                "An account may appear only once per transaction.", account_id=str(account_id)
            )
        seen.add(account_id)
    total = sum(amount for _, amount in postings)
    if total != 0:
        raise UnbalancedTransactionError(
            f"The postings sum to {total} micros instead of zero.", total=total
        )
    return [(account_id, amount) for account_id, amount in postings]


def check_in_range(balances: dict[uuid.UUID, int], postings: Iterable[Posting]) -> None:
    """Raise unless every account's balance after `postings` stays within ±MAX_BALANCE_MICROS
    (the database stores a 64-bit integer; SQLite would silently turn an overflow into a float)."""
    for account_id, amount in postings:
        after = balances.get(account_id, 0) + amount
        if abs(after) > MAX_BALANCE_MICROS:
            raise BalanceOutOfRangeError(
                f"This would take a balance beyond ±{format_amount(MAX_BALANCE_MICROS)}, the most "
                "a ledger account may hold; nothing was written.",
                account_id=str(account_id),
                max=format_amount(MAX_BALANCE_MICROS),
            )


def same_postings(a: Iterable[Posting], b: Iterable[Posting]) -> bool:
    """True when two posting lists move the same amounts on the same accounts."""
    return sorted(a) == sorted(b)


def reversed_postings(postings: Iterable[Posting]) -> list[Posting]:
    """The postings that undo `postings` exactly."""
    return [(account_id, -amount) for account_id, amount in postings]
