"""Bulk inserts for the settlement path: PostgreSQL `COPY`, executemany elsewhere.

`insert_rows(session, table, rows)` writes `rows` (dicts keyed by column name, all with the same
keys) into `table` inside the session's transaction. On PostgreSQL it streams them with asyncpg's
`copy_records_to_table` (binary COPY) on the session's own connection, so they commit or roll
back with everything else the transaction wrote; elsewhere it is one Core executemany INSERT.

COPY skips SQLAlchemy's per-row parameter processing, which dominated the batched settlement's
CPU. What the INSERT would have done per value is done here too: each column's bind processor
(a `TypeDecorator`'s `process_bind_param`, JSON serialisation) runs, and a column absent from the
rows that has a Python-side scalar or zero-argument default gets it (server defaults and
identity/serial columns are left to the server, as the INSERT would leave them). COPY has no ON
CONFLICT: a duplicate key fails the statement, and the transaction, as a plain INSERT would, with
the same `sqlalchemy.exc.IntegrityError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

Processor = Callable[[Any], Any] | None

_plans: dict[tuple[str, tuple[str, ...], str], _Plan] = {}


class _Plan:
    """How to turn a row dict into a COPY record for one table and key set."""

    __slots__ = ("columns", "defaults", "keys", "processors")

    def __init__(self, table: Table, keys: tuple[str, ...], dialect: Dialect) -> None:
        self.keys = keys
        processors: list[Processor] = []
        defaults: list[tuple[str, bool, Any]] = []
        for key in keys:
            processors.append(table.c[key].type._cached_bind_processor(dialect))
        for column in table.c:
            if column.key in keys or column.default is None:
                continue
            default: Any = column.default
            if default.is_scalar or default.is_callable:
                # SQLAlchemy wraps a callable default to take the execution context
                defaults.append((column.key, default.is_callable, default.arg))
            # a SQL-expression or sequence default stays the server's (column omitted)
        for key, _, _ in defaults:
            processors.append(table.c[key].type._cached_bind_processor(dialect))
        self.defaults = defaults
        self.processors = processors
        self.columns = [table.c[key].name for key in keys] + [
            table.c[key].name for key, _, _ in defaults
        ]

    def records(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        # Most columns need no conversion: take the row's values in one C call and convert
        # only the few that do (UTC datetimes, JSON, booleans), not every value of every row.
        take = itemgetter(*self.keys) if len(self.keys) > 1 else None
        convert = [(i, p) for i, p in enumerate(self.processors) if p is not None]
        defaults = self.defaults
        out: list[tuple[Any, ...]] = []
        for row in rows:
            values: list[Any] = list(take(row)) if take is not None else [row[self.keys[0]]]
            if defaults:
                values.extend(arg(None) if call else arg for _, call, arg in defaults)
            for i, process in convert:
                value = values[i]
                if value is not None:
                    values[i] = process(value)
            out.append(tuple(values))
        return out


def _plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> _Plan:
    cache_key = (table.fullname, keys, dialect.name)
    plan = _plans.get(cache_key)
    if plan is None:
        plan = _plans[cache_key] = _Plan(table, keys, dialect)
    return plan


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` into `table` in the session's transaction: COPY on PostgreSQL (asyncpg),
    one executemany INSERT elsewhere. Every row must have the same keys (column keys)."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "asyncpg":
        await session.execute(insert(table), list(rows))
        return
    keys = tuple(rows[0])
    if any(len(row) != len(keys) for row in rows):
        raise ValueError("insert_rows needs rows with the same keys")
    plan = _plan(table, keys, dialect)
    records = plan.records(rows)
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the transaction (BEGIN) lazily, at the first
        # statement it runs: run one, so the COPY cannot land outside it (autocommitted).
        await session.execute(select(1))
    try:
        await driver.copy_records_to_table(
            table.name, records=records, columns=plan.columns, schema_name=table.schema
        )
    except asyncpg.IntegrityConstraintViolationError as exc:
        # What the INSERT would have raised through SQLAlchemy (callers catch this one).
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc
