"""db.bulk.insert_rows: COPY on PostgreSQL, executemany on SQLite, the same rows either way,
inside the caller's transaction (a rollback takes them back, even when the COPY is the
transaction's first statement)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from spectra.db.bulk import insert_rows
from spectra.db.session import Session, read_scope, session_scope
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.runtime import Runtime
from spectra.usage.models import UsageRecord

TABLE = UsageRecord.__table__


def _row(request_id: str, **extra: object) -> dict[str, object]:
    """A usage record row with only some columns: the rest take the model's defaults."""
    row: dict[str, object] = {
        "id": uuid7(),
        "request_id": request_id,
        "protocol": "openai_chat",
        "model_requested": "gpt-5",
        "status": "ok",
        "funding": [
            {"account_id": str(uuid.UUID(int=7)), "kind": "user_wallet", "amount_micros": 5}
        ],
        "created_at": datetime(2026, 12, 1, 10, 30, 1, 123456, tzinfo=UTC),
        "user_id": uuid.UUID(int=42),
        "input_tokens": 120,
        "cost_micros": 9_000_000_000_001,
        "latency_ms": None,
    }
    row.update(extra)
    return row


async def _records(runtime: Runtime, prefix: str) -> list[UsageRecord]:
    async with read_scope(runtime.db) as session:
        stmt = (
            select(UsageRecord)
            .where(UsageRecord.request_id.startswith(prefix))
            .order_by(UsageRecord.request_id)
        )
        return list((await session.execute(stmt)).scalars())


class TestInsertRows:
    async def test_values_defaults_and_nulls_round_trip(self, runtime: Runtime) -> None:
        async with session_scope(runtime.db) as session:
            await insert_rows(
                session,
                TABLE,  # type: ignore[arg-type]
                [_row("bulk-a"), _row("bulk-b", status="error", latency_ms=250)],
            )
        a, b = await _records(runtime, "bulk-")
        assert a.created_at == datetime(2026, 12, 1, 10, 30, 1, 123456, tzinfo=UTC)
        assert a.funding == [
            {"account_id": str(uuid.UUID(int=7)), "kind": "user_wallet", "amount_micros": 5}
        ]
        assert (a.user_id, a.input_tokens, a.cost_micros) == (
            uuid.UUID(int=42),
            120,
            9_000_000_000_001,
        )
        assert a.latency_ms is None
        assert a.group_id is None
        # Python-side defaults the rows left out, as an INSERT would have filled them in
        assert (a.attempts, a.client_family, a.output_tokens, a.is_streamed) == (
            1,
            "other",
            0,
            False,
        )
        assert (b.status, b.latency_ms) == ("error", 250)

    async def test_a_callable_default_is_called_per_row(self, runtime: Runtime) -> None:
        before = utc_now() - timedelta(seconds=1)
        rows = [_row(f"bulk-now-{i}") for i in range(3)]
        for row in rows:
            del row["created_at"]
        async with session_scope(runtime.db) as session:
            await insert_rows(session, TABLE, rows)  # type: ignore[arg-type]
        found = await _records(runtime, "bulk-now-")
        assert len(found) == 3
        assert all(r.created_at >= before for r in found)

    async def test_first_statement_of_a_rolled_back_transaction_leaves_nothing(
        self, runtime: Runtime
    ) -> None:
        """The COPY is the transaction's first statement here: it must not autocommit."""

        class BoomError(Exception):
            pass

        async def fail_after_copy() -> None:
            async with session_scope(runtime.db) as session:
                await insert_rows(session, TABLE, [_row("bulk-rb-1")])  # type: ignore[arg-type]
                raise BoomError

        with pytest.raises(BoomError):
            await fail_after_copy()
        assert await _records(runtime, "bulk-rb-") == []

    async def test_a_duplicate_key_fails_the_whole_statement(self, runtime: Runtime) -> None:
        row = _row("bulk-dup")
        async with session_scope(runtime.db) as session:
            await insert_rows(session, TABLE, [row])  # type: ignore[arg-type]

        async def write_again() -> None:
            async with session_scope(runtime.db) as session:
                await insert_rows(
                    session,
                    TABLE,  # type: ignore[arg-type]
                    [_row("bulk-dup-new"), dict(row)],
                )

        with pytest.raises(IntegrityError):
            await write_again()
        assert [r.request_id for r in await _records(runtime, "bulk-dup")] == ["bulk-dup"]

    async def test_rows_with_different_keys_are_refused(
        self, session: Session, dialect: str
    ) -> None:
        if dialect != "postgresql":
            pytest.skip("executemany takes rows of different keys on SQLite")
        other = _row("bulk-k2")
        del other["latency_ms"]
        with pytest.raises(ValueError, match="same keys"):
            await insert_rows(session, TABLE, [_row("bulk-k1"), other])  # type: ignore[arg-type]

    async def test_inside_a_savepoint_of_an_outer_transaction(self, session: Session) -> None:
        await insert_rows(session, TABLE, [_row("bulk-sp-1"), _row("bulk-sp-2")])  # type: ignore[arg-type]
        count = await session.scalar(
            select(func.count())
            .select_from(UsageRecord)
            .where(UsageRecord.request_id.startswith("bulk-sp-"))
        )
        assert count == 2
