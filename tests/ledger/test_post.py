"""post(): zero-sum, idempotency, locking order, cached balances, the change feed."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from spectra.audit.actor import GATEWAY
from spectra.db.models import ChangeFeedEntry
from spectra.db.session import Session, session_scope
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import IdempotencyConflictError, UnbalancedTransactionError
from spectra.ledger.models import AccountKind, LedgerAccount, LedgerPosting, TransactionKind
from spectra.runtime import Runtime

from .factories import SYSTEM_TEST


async def _two(session: Session) -> tuple[LedgerAccount, LedgerAccount]:
    a = await ledger_service.get_or_create_account(
        session, kind=AccountKind.ALLOWANCE, owner_id=uuid.uuid4()
    )
    b = await ledger_service.get_or_create_account(
        session, kind=AccountKind.ALLOWANCE, owner_id=uuid.uuid4()
    )
    return a, b


class TestGetOrCreateAccount:
    async def test_returns_the_same_row_for_the_same_kind_and_owner(self, session: Session) -> None:
        owner = uuid.uuid4()
        first = await ledger_service.get_or_create_account(
            session, kind=AccountKind.ALLOWANCE, owner_id=owner
        )
        again = await ledger_service.get_or_create_account(
            session, kind="allowance", owner_id=owner
        )
        assert first.id == again.id
        assert first.balance_micros == 0

    async def test_singletons_exist_once(self, session: Session) -> None:
        a = await ledger_service.get_or_create_account(session, kind=AccountKind.FUNDING)
        b = await ledger_service.get_or_create_account(session, kind=AccountKind.FUNDING)
        assert a.id == b.id
        assert a.owner_id is None

    async def test_concurrent_creation_yields_one_account(self, runtime: Runtime) -> None:
        owner = uuid.uuid4()

        async def create() -> uuid.UUID:
            async with session_scope(runtime.db) as s:
                return (
                    await ledger_service.get_or_create_account(
                        s, kind=AccountKind.ALLOWANCE, owner_id=owner
                    )
                ).id

        ids = await asyncio.gather(*(create() for _ in range(10)))
        assert len(set(ids)) == 1


class TestPost:
    async def test_moves_balances_by_the_postings(self, session: Session) -> None:
        a, b = await _two(session)
        txn = await ledger_service.post(
            session,
            SYSTEM_TEST,
            kind=TransactionKind.TRANSFER,
            postings=[(a.id, -500), (b.id, 500)],
            idempotency_key="k1",
            memo="m",
        )
        assert {(p.account_id, p.amount_micros) for p in txn.postings} == {
            (a.id, -500),
            (b.id, 500),
        }
        assert await ledger_service.get_balances(session, [a.id, b.id]) == {a.id: -500, b.id: 500}
        assert txn.actor_kind == "system"
        assert txn.actor_label == "system"

    @pytest.mark.parametrize(
        "postings", [[(0, 5)], [(0, 5), (1, -4)], [(0, 0), (1, 0)], [(0, 5), (0, -5)]]
    )
    async def test_refuses_postings_that_do_not_balance(
        self, session: Session, postings: list[tuple[int, int]]
    ) -> None:
        accounts = await _two(session)
        with pytest.raises(UnbalancedTransactionError):
            await ledger_service.post(
                session,
                SYSTEM_TEST,
                kind=TransactionKind.ADJUSTMENT,
                postings=[(accounts[i].id, m) for i, m in postings],
                idempotency_key="bad",
            )
        count = (
            await session.execute(select(func.count()).select_from(LedgerPosting))
        ).scalar_one()
        assert count == 0

    async def test_a_replay_returns_the_original_and_moves_nothing(self, session: Session) -> None:
        a, b = await _two(session)
        first = await ledger_service.post(
            session,
            SYSTEM_TEST,
            kind=TransactionKind.TRANSFER,
            postings=[(a.id, -7), (b.id, 7)],
            idempotency_key="same",
        )
        again = await ledger_service.post(
            session,
            SYSTEM_TEST,
            kind=TransactionKind.TRANSFER,
            postings=[(b.id, 7), (a.id, -7)],
            idempotency_key="same",
        )
        assert again.id == first.id
        assert await ledger_service.balance(session, b.id) == 7

    async def test_a_replay_with_different_postings_is_a_conflict(self, session: Session) -> None:
        a, b = await _two(session)
        await ledger_service.post(
            session,
            SYSTEM_TEST,
            kind=TransactionKind.TRANSFER,
            postings=[(a.id, -7), (b.id, 7)],
            idempotency_key="same",
        )
        with pytest.raises(IdempotencyConflictError):
            await ledger_service.post(
                session,
                SYSTEM_TEST,
                kind=TransactionKind.TRANSFER,
                postings=[(a.id, -8), (b.id, 8)],
                idempotency_key="same",
            )
        assert await ledger_service.balance(session, b.id) == 7

    async def test_records_a_balance_change_except_for_the_gateway(self, session: Session) -> None:
        a, b = await _two(session)

        async def changes() -> int:
            stmt = (
                select(func.count())
                .select_from(ChangeFeedEntry)
                .where(ChangeFeedEntry.kind == "ledger.balance")
            )
            return int((await session.execute(stmt)).scalar_one())

        await ledger_service.post(
            session,
            SYSTEM_TEST,
            kind=TransactionKind.GRANT,
            postings=[(a.id, -1), (b.id, 1)],
            idempotency_key="c1",
        )
        assert await changes() == 2
        await ledger_service.post(
            session,
            GATEWAY,
            kind=TransactionKind.USAGE,
            postings=[(b.id, -1), (a.id, 1)],
            idempotency_key="c2",
        )
        assert await changes() == 2

    async def test_concurrent_replays_post_once(self, runtime: Runtime) -> None:
        async with session_scope(runtime.db) as s:
            a, b = await _two(s)

        async def send() -> uuid.UUID:
            async with session_scope(runtime.db) as s:
                txn = await ledger_service.post(
                    s,
                    SYSTEM_TEST,
                    kind=TransactionKind.TRANSFER,
                    postings=[(a.id, -3), (b.id, 3)],
                    idempotency_key="race",
                )
                return txn.id

        ids = await asyncio.gather(*(send() for _ in range(20)))
        assert len(set(ids)) == 1
        async with session_scope(runtime.db) as s:
            assert await ledger_service.balance(s, b.id) == 3
