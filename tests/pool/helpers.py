"""Assertions shared by the pool tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit.models import AuditEvent
from spectra.db.base import Base


async def last_audit(session: AsyncSession) -> AuditEvent:
    return (
        await session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    ).scalar_one()


async def dump_database(session: AsyncSession) -> str:
    """Every row of every table as text: to prove a secret is stored nowhere in plaintext."""
    parts: list[str] = []
    for table in Base.metadata.sorted_tables:
        rows = (await session.execute(text(f'SELECT * FROM "{table.name}"'))).all()
        parts.extend(repr(tuple(row)) for row in rows)
    return "\n".join(parts)


def text_of(value: Any) -> str:
    return repr(value)
