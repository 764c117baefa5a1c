"""The ledger tables as Core tables, and the dialect-aware INSERT shared by the writers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.ledger.models import (
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    LowBalanceNotice,
)

TXN: Table = LedgerTransaction.__table__  # type: ignore[assignment]
POSTING: Table = LedgerPosting.__table__  # type: ignore[assignment]
ACCOUNT: Table = LedgerAccount.__table__  # type: ignore[assignment]
NOTICE: Table = LowBalanceNotice.__table__  # type: ignore[assignment]


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_stmt(session: AsyncSession, table: Any) -> Any:
    if dialect_of(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
