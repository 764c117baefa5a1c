"""Helpers shared by the ledger service modules."""

from __future__ import annotations

from spectra.db.session import AnySession
from spectra.errors import AmountOutOfRangeError, InvalidAmountError
from spectra.kit.money import MAX_AMOUNT_MICROS, format_amount
from spectra.ledger import repository as repo
from spectra.ledger.errors import CurrencyMismatchError
from spectra.ledger.models import LedgerTransaction
from spectra.workspace import service as workspace_service
from spectra.workspace.schemas import WorkspaceSettings


async def workspace_settings(session: AnySession) -> WorkspaceSettings:
    """The one place the ledger reads workspace limits (max recharge, four-eyes, thresholds)."""
    return await workspace_service.get_settings(session)


async def check_currency(session: AnySession, currency: str | None) -> None:
    """Refuse an amount that names a currency other than the workspace's (nothing converts)."""
    if currency is None:
        return
    ws = await workspace_settings(session)
    if currency != ws.currency:
        raise CurrencyMismatchError(
            f"Amounts are in the workspace currency, {ws.currency}; '{currency[:16]}' was refused.",
            currency=currency[:16],
            workspace_currency=ws.currency,
        )


def positive(amount: int, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmountError(f"{field} must be greater than zero.", field=field)
    return bounded(amount, field)


def bounded(amount: int, field: str = "amount") -> int:
    """Refuse an amount beyond the workspace-wide maximum (callers of the service may pass raw
    micros, not only parsed strings)."""
    if abs(amount) > MAX_AMOUNT_MICROS:
        raise AmountOutOfRangeError(
            f"{field} is too large; an amount is at most {format_amount(MAX_AMOUNT_MICROS)}.",
            field=field,
        )
    return amount


async def replayed(session: AnySession, key: str) -> LedgerTransaction | None:
    """The transaction already written under `key`, if any (so a replay is not audited twice)."""
    return await repo.get_transaction_by_key(session, key)
