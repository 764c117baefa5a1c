"""Generic repository: get, find, add and keyset pagination over (created_at, id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from spectra.db.base import Base
from spectra.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor

M = TypeVar("M", bound=Base)


class Repository(Generic[M]):
    model: type[M]

    def __init__(self, model: type[M]) -> None:
        self.model = model

    async def get(self, session: AsyncSession, id_: Any) -> M | None:
        return await session.get(self.model, id_)

    async def find(self, session: AsyncSession, *where: Any) -> M | None:
        result = await session.execute(select(self.model).where(*where).limit(1))
        return result.scalars().first()

    async def list(self, session: AsyncSession, *where: Any) -> Sequence[M]:
        result = await session.execute(select(self.model).where(*where))
        return result.scalars().all()

    async def add(self, session: AsyncSession, obj: M, *, flush: bool = True) -> M:
        session.add(obj)
        if flush:
            await session.flush()
        return obj


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character backslash) matching any text that contains `text`,
    lower-cased, with its own % and _ taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    sort_time: InstrumentedAttribute[datetime],
    sort_id: InstrumentedAttribute[Any],
    limit: int | None,
    cursor: str | None,
    descending: bool = True,
) -> Page[Any]:
    """Keyset-paginate `stmt` by (sort_time, sort_id); newest first unless `descending=False`."""
    size = clamp_limit(limit)
    if cursor:
        raw_time, raw_id = decode_cursor(cursor)
        at = datetime.fromisoformat(raw_time)
        key: Any = uuid.UUID(raw_id) if isinstance(raw_id, str) and len(raw_id) == 36 else raw_id
        if descending:
            stmt = stmt.where(or_(sort_time < at, and_(sort_time == at, sort_id < key)))
        else:
            stmt = stmt.where(or_(sort_time > at, and_(sort_time == at, sort_id > key)))
    order = (sort_time.desc(), sort_id.desc()) if descending else (sort_time.asc(), sort_id.asc())
    result = await session.execute(stmt.order_by(*order).limit(size + 1))
    rows = list(result.scalars().all())
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = encode_cursor(
            [getattr(last, sort_time.key).isoformat(), getattr(last, sort_id.key)]
        )
    return Page(items=rows, next_cursor=next_cursor)


async def paginate_by_created(
    session: AsyncSession,
    stmt: Select[Any],
    model: Any,
    *,
    limit: int | None,
    cursor: str | None,
    descending: bool = True,
) -> Page[Any]:
    """`paginate` by the model's (created_at, id): the order of most lists."""
    return await paginate(
        session,
        stmt,
        sort_time=model.created_at,
        sort_id=model.id,
        limit=limit,
        cursor=cursor,
        descending=descending,
    )


async def page_rows(
    session: AsyncSession,
    model: type[M],
    *where: Any,
    limit: int | None,
    cursor: str | None,
    descending: bool = True,
) -> Page[M]:
    """A keyset page of `model`'s rows matching every `where` clause, by (created_at, id), newest
    first unless `descending=False`: `paginate_by_created` for the common case of one table."""
    page: Page[M] = await paginate_by_created(
        session,
        select(model).where(*where),
        model,
        limit=limit,
        cursor=cursor,
        descending=descending,
    )
    return page
