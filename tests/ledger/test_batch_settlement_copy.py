"""The group committer's settlement batch (ledger transactions, postings and usage records, by
COPY on PostgreSQL) when something fails mid-batch: a usage record that cannot be written after
its batch's ledger rows were already sent rolls the whole batch back; the committer then writes
each item alone, so every good settlement is written exactly once, the bad one not at all, and
`spectra ledger verify` passes. A replayed key and a bad spec in the same batch move nothing."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from spectra.audit.actor import SYSTEM
from spectra.db.batch import GroupCommitter, defer
from spectra.db.session import Session, read_scope, session_scope
from spectra.gateway.settlement import _Settlement, _write_batch
from spectra.kit.ids import uuid7
from spectra.ledger import service as ledger_service
from spectra.ledger.holds import LedgerTransactionSpec
from spectra.ledger.models import AccountKind, LedgerTransaction, TransactionKind
from spectra.ledger.verify import verify_ledger
from spectra.runtime import Runtime
from spectra.usage.models import UsageRecord
from spectra.usage.schemas import UsageRecordCreate


async def _accounts(runtime: Runtime) -> tuple[uuid.UUID, uuid.UUID]:
    async with session_scope(runtime.db) as session:
        wallet = await ledger_service.get_or_create_account(
            session, kind=AccountKind.USER_WALLET, owner_id=uuid.uuid4()
        )
        sink = await ledger_service.get_or_create_account(session, kind=AccountKind.USAGE_EXPENSE)
        funding = await ledger_service.get_or_create_account(session, kind=AccountKind.FUNDING)
        await ledger_service.post(
            session,
            SYSTEM,
            kind=TransactionKind.GRANT,
            postings=[(funding.id, -1_000_000), (wallet.id, 1_000_000)],
            idempotency_key=f"fund:{wallet.id}",
            memo="test funding",
        )
        return wallet.id, sink.id


def _item(key: str, wallet: uuid.UUID, sink: uuid.UUID, cost: int, **record: object) -> _Settlement:
    spec = LedgerTransactionSpec(
        kind=TransactionKind.USAGE,
        postings=((wallet, -cost), (sink, cost)),
        idempotency_key=key,
        memo="m",
    )
    values: dict[str, object] = {
        "request_id": key,
        "protocol": "openai_chat",
        "model_requested": "gpt-5",
        "status": "ok",
        "cost_micros": cost,
        "id": uuid7(),
    }
    values.update(record)
    return _Settlement(UsageRecordCreate(**values), spec)  # type: ignore[arg-type]


async def _settle(committer: GroupCommitter, items: list[_Settlement]) -> list[object]:
    def work(item: _Settlement):  # type: ignore[no-untyped-def]
        async def run(session: Session) -> _Settlement:
            await defer(session, _write_batch, item)
            return item

        return run

    results: list[object] = await asyncio.gather(
        *(committer.submit(work(item)) for item in items), return_exceptions=True
    )
    return results


async def _written(runtime: Runtime, prefix: str) -> tuple[list[str], list[str], int]:
    async with read_scope(runtime.db) as session:
        keys = sorted(
            (
                await session.execute(
                    select(LedgerTransaction.idempotency_key).where(
                        LedgerTransaction.idempotency_key.startswith(prefix)
                    )
                )
            ).scalars()
        )
        records = sorted(
            (
                await session.execute(
                    select(UsageRecord.request_id).where(UsageRecord.request_id.startswith(prefix))
                )
            ).scalars()
        )
        linked = await session.scalar(
            select(func.count())
            .select_from(UsageRecord)
            .join(LedgerTransaction, LedgerTransaction.id == UsageRecord.ledger_transaction_id)
            .where(UsageRecord.request_id.startswith(prefix))
        )
        return keys, records, int(linked or 0)


class TestMidBatchFailure:
    async def test_a_record_that_fails_after_the_ledger_rows_rolls_back_only_itself(
        self, runtime: Runtime
    ) -> None:
        wallet, sink = await _accounts(runtime)
        taken = uuid7()
        async with session_scope(runtime.db) as session:
            # A record already holding the id the bad item will reuse: its INSERT/COPY fails
            # after the batch's transactions and postings were written.
            await _write_batch(session, [_item("mb:old", wallet, sink, 10, id=taken)])
        committer = GroupCommitter(runtime.db, max_batch=100, max_delay=0.2)
        await committer.start()
        items = [_item(f"mb:{i}", wallet, sink, 100 + i) for i in range(20)]
        items.insert(7, _item("mb:bad", wallet, sink, 55, id=taken))
        results = await _settle(committer, items)
        await committer.stop()
        assert committer.failed == 1
        assert sum(isinstance(r, Exception) for r in results) == 1
        assert isinstance(results[7], Exception)
        keys, records, linked = await _written(runtime, "mb:")
        expected = sorted(["mb:old", *(f"mb:{i}" for i in range(20))])
        assert keys == expected
        assert records == expected
        assert linked == len(expected)
        async with read_scope(runtime.db) as session:
            balances = await ledger_service.get_balances(session, [wallet, sink])
            report = await verify_ledger(session)
        charged = 10 + sum(100 + i for i in range(20))
        assert balances[wallet] == 1_000_000 - charged
        assert report.ok, report

    async def test_replays_and_a_bad_spec_in_one_batch_move_nothing(self, runtime: Runtime) -> None:
        wallet, sink = await _accounts(runtime)
        committer = GroupCommitter(runtime.db, max_batch=100, max_delay=0.2)
        await committer.start()
        first = [_item("rp:a", wallet, sink, 100), _item("rp:b", wallet, sink, 200)]
        await _settle(committer, first)
        bad = _item("rp:bad", wallet, sink, 5)
        bad.spec = LedgerTransactionSpec(
            kind=TransactionKind.USAGE, postings=((wallet, -5), (sink, 4)), idempotency_key="rp:bad"
        )
        again = [
            _item("rp:a", wallet, sink, 100),  # replay across batches
            _item("rp:c", wallet, sink, 300),
            _item("rp:c", wallet, sink, 300),  # replay inside the batch
            bad,
        ]
        await _settle(committer, again)
        await committer.stop()
        assert [item.error.code if item.error else None for item in again] == [
            None,
            None,
            None,
            "unbalanced_transaction",
        ]
        keys, _, _ = await _written(runtime, "rp:")
        assert keys == ["rp:a", "rp:b", "rp:c"]
        async with read_scope(runtime.db) as session:
            balances = await ledger_service.get_balances(session, [wallet])
            report = await verify_ledger(session)
        assert balances[wallet] == 1_000_000 - 600
        assert report.ok, report
