"""A hypothesis state machine over recharge, redeem, hold, settle, release, refund, adjustment and
transfer: after every step each balance equals the sum of its postings, every transaction sums to
zero, the ledger as a whole sums to zero, balances match an independent model, and the balance
view's available amounts equal the database balance minus open holds."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import delete, func, select

from spectra.audit.actor import GATEWAY
from spectra.db.base import Base
from spectra.db.session import Database, open_database, session_scope, set_database
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import InsufficientBalanceError, InsufficientFundsError
from spectra.ledger.holds import Hold, InProcessBalanceView
from spectra.ledger.models import LedgerPosting
from spectra.ledger.verify import verify_ledger
from spectra.users.models import Group, User

from .factories import admin, member

T = TypeVar("T")
ADMIN = admin()
USERS = 3
amounts = st.integers(min_value=1, max_value=5_000)


class LedgerMachine(RuleBasedStateMachine):
    url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db: Database = open_database(self.url)
        self.view = InProcessBalanceView(self.db)
        self.users: list[uuid.UUID] = []
        self.wallets: list[uuid.UUID] = []
        self.group_wallet: uuid.UUID = uuid.uuid4()
        self.expected: dict[uuid.UUID, int] = {}
        self.holds: list[Hold] = []
        self.usages: list[tuple[uuid.UUID, int]] = []
        self.refunded: dict[uuid.UUID, int] = {}
        self.n = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def key(self) -> str:
        self.n += 1
        return f"sm-{self.n}"

    @initialize()
    def setup(self) -> None:
        async def go() -> None:
            async with session_scope(self.db) as s:
                group = Group(name="sm", name_key=f"sm-{uuid.uuid4().hex[:6]}")
                s.add(group)
                await s.flush()
                for i in range(USERS):
                    user = User(
                        email=f"sm{i}-{uuid.uuid4().hex[:6]}@example.com",
                        role="member",
                        group_id=group.id,
                    )
                    s.add(user)
                    await s.flush()
                    self.users.append(user.id)
                    self.wallets.append(
                        (await ledger_service.wallet_account(s, user_id=user.id)).id
                    )
                self.group_wallet = (await ledger_service.wallet_account(s, group_id=group.id)).id
            await self.view.start()

        self.run(go())
        for account in [*self.wallets, self.group_wallet]:
            self.expected[account] = 0

    def _after_admin_write(self) -> None:
        self.run(self.view.refresh([*self.wallets, self.group_wallet]))

    @rule(who=st.integers(0, USERS - 1), amount=amounts)
    def recharge(self, who: int, amount: int) -> None:
        async def go() -> None:
            async with session_scope(self.db) as s:
                await ledger_service.recharge(
                    s,
                    ADMIN,
                    user_id=self.users[who],
                    amount=amount,
                    memo="sm",
                    idempotency_key=self.key(),
                )

        self.run(go())
        self.expected[self.wallets[who]] += amount
        self._after_admin_write()

    @rule(who=st.integers(0, USERS - 1), amount=amounts)
    def redeem(self, who: int, amount: int) -> None:
        async def go() -> None:
            async with session_scope(self.db) as s:
                created = await ledger_service.create_codes(s, ADMIN, count=1, amount=amount)
            async with session_scope(self.db) as s:
                await ledger_service.redeem_code(s, member(self.users[who]), code=created.codes[0])

        self.run(go())
        self.expected[self.wallets[who]] += amount
        self._after_admin_write()

    @rule(who=st.integers(0, USERS - 1), amount=amounts, use_group=st.booleans())
    def hold(self, who: int, amount: int, use_group: bool) -> None:
        plan: list[tuple[uuid.UUID, int | None]] = [(self.wallets[who], None)]
        if use_group:
            plan.append((self.group_wallet, None))
        with contextlib.suppress(InsufficientFundsError):
            self.holds.append(
                self.run(
                    self.view.reserve(
                        self.key(), plan, amount=amount, expires_in=timedelta(minutes=5)
                    )
                )
            )

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data(), factor=st.sampled_from([0, 0.5, 1, 1.5]))
    def settle(self, data: st.DataObject, factor: float) -> None:
        hold = self.holds.pop(data.draw(st.integers(0, len(self.holds) - 1)))
        cost = int(hold.amount * factor)
        before = {a: self.run(self.view.available(a)) for a, _ in hold.plan}
        spec = self.run(self.view.settle(hold, cost))
        if spec is None:
            assert cost == 0
            return
        charges = spec.charges
        assert sum(charges.values()) == cost
        excess = max(0, cost - hold.amount)
        for account_id, charge in charges.items():
            self.expected[account_id] -= charge
            # The overspend bound: no source ends below zero (available) by more than this excess.
            assert before[account_id] - (charge - dict(hold.parts).get(account_id, 0)) >= -excess

        async def go() -> None:
            async with session_scope(self.db) as s:
                txn = await ledger_service.post_spec(s, GATEWAY, spec)
                self.usages.append((txn.id, cost))

        self.run(go())
        self.run(self.view.written(spec))

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        hold = self.holds.pop(data.draw(st.integers(0, len(self.holds) - 1)))
        assert self.run(self.view.release(hold))

    @precondition(lambda self: bool(self.usages))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        txn_id, cost = data.draw(st.sampled_from(self.usages))
        left = cost - self.refunded.get(txn_id, 0)
        if left <= 0:
            return
        amount = data.draw(st.integers(1, left))

        async def go() -> dict[uuid.UUID, int]:
            async with session_scope(self.db) as s:
                outcome = await ledger_service.refund(
                    s,
                    ADMIN,
                    transaction_id=txn_id,
                    amount=amount,
                    reason="sm",
                    idempotency_key=self.key(),
                )
                txn = outcome.transaction
                assert txn is not None
                return {p.account_id: p.amount_micros for p in txn.postings}

        for account_id, credit in self.run(go()).items():
            if account_id in self.expected:
                self.expected[account_id] += credit
        self.refunded[txn_id] = self.refunded.get(txn_id, 0) + amount
        self._after_admin_write()

    @rule(who=st.integers(0, USERS - 1), amount=st.integers(-5_000, 5_000).filter(bool))
    def adjustment(self, who: int, amount: int) -> None:
        async def go() -> None:
            async with session_scope(self.db) as s:
                await ledger_service.adjust(
                    s,
                    ADMIN,
                    user_id=self.users[who],
                    amount=amount,
                    reason="sm",
                    idempotency_key=self.key(),
                )

        try:
            self.run(go())
        except InsufficientBalanceError:
            assert self.expected[self.wallets[who]] + amount < 0
            return
        self.expected[self.wallets[who]] += amount
        self._after_admin_write()

    @rule(src=st.integers(0, USERS - 1), dst=st.integers(0, USERS - 1), amount=amounts)
    def transfer(self, src: int, dst: int, amount: int) -> None:
        if src == dst:
            return

        async def go() -> None:
            async with session_scope(self.db) as s:
                await ledger_service.transfer(
                    s,
                    ADMIN,
                    from_user_id=self.users[src],
                    to_user_id=self.users[dst],
                    amount=amount,
                    memo="sm",
                    idempotency_key=self.key(),
                )

        try:
            self.run(go())
        except InsufficientBalanceError:
            assert self.expected[self.wallets[src]] < amount
            return
        self.expected[self.wallets[src]] -= amount
        self.expected[self.wallets[dst]] += amount
        self._after_admin_write()

    @invariant()
    def balances_are_the_sum_of_postings_and_everything_sums_to_zero(self) -> None:
        if not self.wallets:
            return

        async def go() -> tuple[bool, list[str], int, dict[uuid.UUID, int]]:
            async with session_scope(self.db) as s:
                report = await verify_ledger(s)
                total = (
                    await s.execute(select(func.coalesce(func.sum(LedgerPosting.amount_micros), 0)))
                ).scalar_one()
                balances = await ledger_service.get_balances(s, list(self.expected))
            return report.ok, [p.message for p in report.problems], int(total), balances

        ok, problems, total, balances = self.run(go())
        assert ok, problems
        assert total == 0
        assert balances == self.expected
        for account_id, balance in balances.items():
            held = sum(t for h in self.holds for a, t in h.parts if a == account_id)
            assert self.run(self.view.available(account_id)) == balance - held

    def teardown(self) -> None:
        async def go() -> None:
            await self.view.stop()
            async with self.db.engine.begin() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    if table.name not in {"alembic_version", "server_identity"}:
                        await conn.execute(delete(table))
            await self.db.dispose()

        try:
            self.run(go())
        finally:
            self.loop.close()
            set_database(None)


def test_ledger_state_machine(database_url: str) -> None:
    LedgerMachine.url = database_url
    machine = LedgerMachine.TestCase
    machine.settings = settings(
        max_examples=15,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine().runTest()
