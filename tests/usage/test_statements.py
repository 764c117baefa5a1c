"""Statements reconcile exactly with the ledger after a realistic sequence of movements."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from spectra.audit.actor import Actor, ActorKind, local_actor
from spectra.db.serverkey import ServerKeys, set_server_keys
from spectra.db.session import Session
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.models import AccountKind, TransactionKind
from spectra.ledger.verify import verify_ledger
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate
from spectra.usage import statements
from spectra.usage.errors import InvalidUsageFilterError
from spectra.users.permissions import PermissionDeniedError

from .factories import make_group, make_user

OWNER = local_actor()
GATEWAY_ACTOR = Actor(kind=ActorKind.GATEWAY, label="gateway")
M = 1_000_000


@pytest.fixture(autouse=True)
def _keys() -> object:
    set_server_keys(ServerKeys(secret=b"k" * 32))
    yield
    set_server_keys(None)


async def _usage(
    session: Session,
    sources: list[tuple[uuid.UUID, int]],
    model: str,
) -> uuid.UUID:
    """Post one request's charge the way settlement does (sources in funding order)."""
    expense = await ledger_service.get_or_create_account(session, kind=AccountKind.USAGE_EXPENSE)
    total = sum(a for _, a in sources)
    txn = await ledger_service.post(
        session,
        GATEWAY_ACTOR,
        kind=TransactionKind.USAGE,
        postings=[*((acct, -amt) for acct, amt in sources), (expense.id, total)],
        idempotency_key=f"usage:{uuid.uuid4()}",
        memo=f"{model} via gateway",
        metadata={"request_id": uuid.uuid4().hex, "model": model},
    )
    return txn.id


class Scenario:
    """A member of group Platform: recharge, code, package grant, usage, refund, transfers,
    adjustment and an expiry, spread over November and December 2026 (UTC)."""

    user_id: uuid.UUID
    group_id: uuid.UUID
    wallet: uuid.UUID
    group_wallet: uuid.UUID
    allowance: uuid.UUID


async def _scenario(session: Session) -> Scenario:
    s = Scenario()
    group = await make_group(session, name=f"Platform-{uuid.uuid4().hex[:4]}")
    user = await make_user(session, group=group)
    s.user_id, s.group_id = user.id, group.id
    # Nov 15 10:00: recharge 50, group recharge 100
    await ledger_service.recharge(
        session, OWNER, user_id=user.id, amount=50 * M, memo="card", idempotency_key="r1"
    )
    await ledger_service.recharge(
        session, OWNER, group_id=group.id, amount=100 * M, memo="budget", idempotency_key="r2"
    )
    s.wallet = (await ledger_service.wallet_account(session, user_id=user.id)).id
    s.group_wallet = (await ledger_service.wallet_account(session, group_id=group.id)).id
    # Nov 16: a package of 20/month is granted, a 5.00 code redeemed
    clock_module.advance(timedelta(days=1))
    await packages_service.create_package(
        session,
        OWNER,
        data=PackageCreate.model_validate(
            {"name": "pro", "allowance": "20", "period": "monthly", "model_patterns": ["*"]}
        ),
    )
    detail = await packages_service.assign_package(session, OWNER, package="pro", user_id=user.id)
    s.allowance = detail.assignment.allowance_account_id
    batch = await ledger_service.create_codes(session, OWNER, count=1, amount=5 * M)
    member = Actor(kind=ActorKind.USER, label=user.email, user_id=user.id, role="member")
    await ledger_service.redeem_code(session, member, code=batch.codes[0])
    # Nov 20: usage — from the allowance, then one split allowance + wallet, one from the group
    clock_module.advance(timedelta(days=4))
    await _usage(session, [(s.allowance, 7_500_000)], "claude-sonnet-4-5")
    split = await _usage(session, [(s.allowance, 10 * M), (s.wallet, 2_250_000)], "gpt-5")
    await _usage(session, [(s.group_wallet, 3_000_000)], "gpt-5")
    # Nov 25: a partial refund, transfers both ways, an adjustment
    clock_module.advance(timedelta(days=5))
    await ledger_service.refund(
        session,
        OWNER,
        transaction_id=split,
        amount=1_000_000,
        reason="upstream glitch",
        idempotency_key="f1",
    )
    await ledger_service.transfer(
        session,
        OWNER,
        from_group_id=group.id,
        to_user_id=user.id,
        amount=10 * M,
        memo="top-up from team",
        idempotency_key="t1",
    )
    await ledger_service.transfer(
        session,
        OWNER,
        from_user_id=user.id,
        to_group_id=group.id,
        amount=4 * M,
        memo="return",
        idempotency_key="t2",
    )
    await ledger_service.adjust(
        session, OWNER, user_id=user.id, amount=-1_500_000, reason="fee", idempotency_key="a1"
    )
    # Dec 16 (past the period end): renewal expires what is left and grants December
    clock_module.advance(timedelta(days=21))
    await packages_service.renew_assignment(session, assignment_id=detail.assignment.id)
    # Dec 17: a little December usage
    clock_module.advance(timedelta(days=1))
    await _usage(session, [(s.allowance, 2 * M)], "claude-sonnet-4-5")
    return s


NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)
JAN = datetime(2027, 1, 1, tzinfo=UTC)


def _line(st: statements.Statement, category: str, model: str | None = None) -> int:
    return sum(
        line.amount_micros
        for line in st.lines
        if line.category == category and (model is None or line.model == model)
    )


class TestBuildStatement:
    async def test_user_statement_has_every_line_and_reconciles(
        self, session: Session, clock: datetime
    ) -> None:
        s = await _scenario(session)
        st = await statements.build_statement(
            session, OWNER, user_id=s.user_id, since=NOV, until=DEC
        )
        assert st.opening_micros == 0
        assert _line(st, "recharges") == 50 * M
        assert _line(st, "redemptions") == 5 * M
        assert _line(st, "grants") == 20 * M
        assert _line(st, "usage", "claude-sonnet-4-5") == -7_500_000
        assert _line(st, "usage", "gpt-5") == -12_250_000
        assert _line(st, "refunds", "gpt-5") == 1_000_000
        assert _line(st, "transfers_in") == 10 * M
        assert _line(st, "transfers_out") == -4 * M
        assert _line(st, "adjustments") == -1_500_000
        assert _line(st, "expiries") == 0
        assert st.closing_micros == 60_750_000  # 50 + 5 + 20 - 7.5 - 12.25 + 1 + 10 - 4 - 1.5
        assert st.opening_micros + sum(x.amount_micros for x in st.lines) == st.closing_micros
        assert st.reconciles
        assert st.ledger_balance_micros is None  # the period ended before now

    async def test_consecutive_periods_chain_and_the_last_equals_the_ledger(
        self, session: Session, clock: datetime
    ) -> None:
        s = await _scenario(session)
        nov = await statements.build_statement(
            session, OWNER, user_id=s.user_id, since=NOV, until=DEC
        )
        dec = await statements.build_statement(
            session, OWNER, user_id=s.user_id, since=DEC, until=JAN
        )
        assert dec.opening_micros == nov.closing_micros
        assert _line(dec, "expiries") == -2_500_000
        assert _line(dec, "grants") == 20 * M
        assert _line(dec, "usage", "claude-sonnet-4-5") == -2 * M
        balances = await ledger_service.get_balances(session, [s.wallet, s.allowance])
        assert dec.closing_micros == sum(balances.values())
        assert dec.ledger_balance_micros == dec.closing_micros
        assert dec.reconciles
        report = await verify_ledger(session)
        assert report.ok, report.problems
        for account in dec.accounts:
            assert account.closing_micros == balances[account.account_id]

    async def test_group_statement_has_usage_and_both_transfer_directions(
        self, session: Session, clock: datetime
    ) -> None:
        s = await _scenario(session)
        st = await statements.build_statement(
            session, OWNER, group_id=s.group_id, since=NOV, until=JAN
        )
        assert _line(st, "recharges") == 100 * M
        assert _line(st, "usage", "gpt-5") == -3 * M
        assert _line(st, "transfers_out") == -10 * M
        assert _line(st, "transfers_in") == 4 * M
        wallet = await ledger_service.balance(session, s.group_wallet)
        assert st.closing_micros == wallet == 91 * M
        assert st.reconciles

    async def test_period_inside_a_day_splits_at_the_exact_instant(
        self, session: Session, clock: datetime
    ) -> None:
        s = await _scenario(session)
        cut = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
        before = await statements.build_statement(
            session, OWNER, user_id=s.user_id, since=NOV, until=cut
        )
        after = await statements.build_statement(
            session, OWNER, user_id=s.user_id, since=cut, until=DEC
        )
        assert before.closing_micros == 50 * M
        assert _line(after, "grants") == 20 * M
        assert after.opening_micros == before.closing_micros

    async def test_entries_list_every_non_usage_transaction(
        self, session: Session, clock: datetime
    ) -> None:
        s = await _scenario(session)
        st = await statements.build_statement(
            session, OWNER, user_id=s.user_id, since=NOV, until=JAN
        )
        entries = [e async for e in statements.iter_entries(session, st)]
        kinds = sorted(e["kind"] for e in entries)
        assert kinds == sorted(
            [
                "recharge",
                "grant",
                "redeem",
                "refund",
                "transfer",
                "transfer",
                "adjustment",
                "expire",
                "grant",
            ]
        )
        with_usage = [e async for e in statements.iter_entries(session, st, include_usage=True)]
        moved = sum(e["amount_micros"] for e in with_usage)
        assert moved == st.closing_micros - st.opening_micros

    async def test_a_member_reads_their_own_but_not_anothers(
        self, session: Session, clock: datetime
    ) -> None:
        s = await _scenario(session)
        me = Actor(kind=ActorKind.USER, label="me", user_id=s.user_id, role="member")
        own = await statements.build_statement(session, me, user_id=s.user_id, since=NOV, until=DEC)
        assert own.reconciles
        group = await statements.build_statement(
            session, me, group_id=s.group_id, since=NOV, until=DEC
        )
        assert group.subject == "group"
        other = await make_user(session)
        with pytest.raises(PermissionDeniedError):
            await statements.build_statement(session, me, user_id=other.id, since=NOV, until=DEC)

    async def test_an_empty_range_is_refused(self, session: Session, clock: datetime) -> None:
        user = await make_user(session)
        with pytest.raises(InvalidUsageFilterError):
            await statements.build_statement(session, OWNER, user_id=user.id, since=DEC, until=NOV)

    async def test_a_user_without_accounts_has_a_zero_statement(
        self, session: Session, clock: datetime
    ) -> None:
        user = await make_user(session)
        st = await statements.build_statement(session, OWNER, user_id=user.id, since=NOV, until=DEC)
        assert (st.opening_micros, st.closing_micros, st.lines) == (0, 0, [])
        assert st.reconciles
