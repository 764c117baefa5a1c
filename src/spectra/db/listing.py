"""Sorted, filtered, offset-paged reads for the console's tables (`ListQuery`): a list declares
its sort keys as SQL expressions once (`Sorting`), and `page_sorted` orders, filters, counts and
slices in the database, so the order and the filter hold over the whole set, not one page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from spectra.db.repository import contains_pattern
from spectra.kit.listing import EXPORT_CAP, ListQuery
from spectra.kit.pagination import Page

Expression = ColumnElement[Any] | InstrumentedAttribute[Any]
"""A column or SQL expression a list sorts or filters by."""

MAX_TEXT = 200
"""Filter text past this length is cut (a pasted page must not become a huge LIKE)."""


@dataclass(frozen=True)
class Sorting:
    """A list's sort keys (the names a URL may use) and the SQL each orders by; `default` is
    the key used when none or an unknown one is asked (prefixed `-` for newest first); `tiebreak`
    (a unique column, usually the id) makes the order total, so pages never overlap; `search`
    are the columns the text filter looks in."""

    keys: Mapping[str, Expression]
    default: str
    tiebreak: Expression
    search: Sequence[Expression] = ()

    def order(self, query: ListQuery) -> tuple[Expression, bool]:
        """The expression and direction `query` asks for, or the default's."""
        if query.sort in self.keys:
            return self.keys[query.sort], query.descending
        key = self.default.lstrip("-")
        return self.keys[key], self.default.startswith("-")

    def filtered(self, stmt: Select[Any], text: str) -> Select[Any]:
        text = text.strip()[:MAX_TEXT]
        if not text or not self.search:
            return stmt
        pattern = contains_pattern(text)
        return stmt.where(
            or_(*(func.lower(cast(c, String)).like(pattern, escape="\\") for c in self.search))
        )


async def page_sorted(
    session: AsyncSession,
    stmt: Select[Any],
    query: ListQuery,
    sorting: Sorting,
    *,
    scalars: bool = True,
) -> Page[Any]:
    """One page of `stmt` by `query` (sort, filter, offset, limit), with `total` the number of
    rows that match the filter. Nulls sort last ascending and first descending on every
    database, so a descending view is exactly the ascending one reversed."""
    stmt = sorting.filtered(stmt, query.q)
    total = (
        await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()
    expression, descending = sorting.order(query)
    if descending:
        order = (expression.desc().nulls_first(), sorting.tiebreak.desc())
    else:
        order = (expression.asc().nulls_last(), sorting.tiebreak.asc())
    limit = max(1, min(query.limit, EXPORT_CAP + 1))
    offset = max(0, query.offset)
    if offset >= total > 0:
        offset = (total - 1) // limit * limit
    result = await session.execute(stmt.order_by(*order).offset(offset).limit(limit))
    items = list(result.scalars().all() if scalars else result.all())
    return Page(items=items, total=int(total), offset=offset)
