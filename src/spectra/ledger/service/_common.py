"""Helpers shared by the ledger service modules."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.errors import InvalidAmountError
from spectra.ledger import repository as repo
from spectra.ledger.models import LedgerTransaction
from spectra.workspace import service as workspace_service
from spectra.workspace.schemas import WorkspaceSettings


async def workspace_settings(session: AsyncSession) -> WorkspaceSettings:
    """The one place the ledger reads workspace limits (max recharge, four-eyes, thresholds)."""
    return await workspace_service.get_settings(session)


def positive(amount: int, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmountError(f"{field} must be greater than zero.", field=field)
    return amount


async def replayed(session: AsyncSession, key: str) -> LedgerTransaction | None:
    """The transaction already written under `key`, if any (so a replay is not audited twice)."""
    return await repo.get_transaction_by_key(session, key)
