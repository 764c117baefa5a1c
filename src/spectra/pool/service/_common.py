"""What the pool's service modules share: loading an account to change it."""

from __future__ import annotations

import uuid

from spectra.db.session import Session
from spectra.pool import repository
from spectra.pool.errors import AccountNotFoundError
from spectra.pool.models import PoolAccount


async def get_for_update(session: Session, account_id: uuid.UUID) -> PoolAccount:
    account = await repository.get_account(session, account_id, for_update=True)
    if account is None:
        raise AccountNotFoundError("No pool account has that id.", account_id=str(account_id))
    return account
