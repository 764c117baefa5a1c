"""post_specs(): a batch of settlement specs equals posting them one by one, replays, conflicts,
isolation of a bad spec, low-balance crossings inside a batch, and a clean verify at scale."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from spectra.audit.actor import GATEWAY, local_actor
from spectra.db.models import ChangeFeedEntry
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.ledger import service as ledger_service
from spectra.ledger.holds import LedgerTransactionSpec
from spectra.ledger.models import (
    AccountKind,
    LedgerPosting,
    LedgerTransaction,
    LowBalanceNotice,
    LowBalanceThreshold,
    TransactionKind,
)
from spectra.ledger.verify import verify_ledger
from spectra.workspace import service as workspace_service

from .factories import SYSTEM_TEST, fund


async def _wallet(session: Session, balance: int, threshold: int | None = None) -> uuid.UUID:
    account = await ledger_service.get_or_create_account(
        session, kind=AccountKind.USER_WALLET, owner_id=uuid.uuid4()
    )
    if balance:
        await fund(session, account, balance)
    if threshold is not None:
        session.add(
            LowBalanceThreshold(account_id=account.id, threshold_micros=threshold, updated_by="t")
        )
        await session.flush()
    return account.id


async def _sink(session: Session) -> uuid.UUID:
    account = await ledger_service.get_or_create_account(
        session, kind=AccountKind.ALLOWANCE, owner_id=uuid.uuid4()
    )
    return account.id


def _spec(key: str, *debits: tuple[uuid.UUID, int], to: uuid.UUID) -> LedgerTransactionSpec:
    postings = [(a, -m) for a, m in debits]
    postings.append((to, sum(m for _, m in debits)))
    return LedgerTransactionSpec(
        kind=TransactionKind.USAGE,
        postings=tuple(postings),
        idempotency_key=key,
        memo="m",
        metadata={"request_id": key},
    )


async def _balance(session: Session, account_id: uuid.UUID) -> int:
    return (await ledger_service.get_balances(session, [account_id]))[account_id]


async def _notices(session: Session) -> list[tuple[uuid.UUID, str, int, int]]:
    rows = (
        await session.execute(
            select(
                LowBalanceNotice.account_id,
                LedgerTransaction.idempotency_key,
                LowBalanceNotice.threshold_micros,
                LowBalanceNotice.balance_micros,
            ).join(LedgerTransaction, LedgerTransaction.id == LowBalanceNotice.transaction_id)
        )
    ).all()
    return sorted((r[0], r[1], int(r[2]), int(r[3])) for r in rows)


class TestPostSpecs:
    async def test_writes_each_spec_and_moves_balances_once(self, session: Session) -> None:
        a = await _wallet(session, 10_000)
        b = await _wallet(session, 10_000)
        sink = await _sink(session)
        posted = await ledger_service.post_specs(
            session,
            GATEWAY,
            [_spec("k1", (a, 100), to=sink), _spec("k2", (a, 50), (b, 25), to=sink)],
        )
        assert [p.error for p in posted] == [None, None]
        assert not any(p.replayed for p in posted)
        assert (await _balance(session, a), await _balance(session, b)) == (9_850, 9_975)
        assert await _balance(session, sink) == 175
        assert posted[1].transaction_id is not None
        txn = await ledger_service.get_transaction(
            session, SYSTEM_TEST, transaction_id=posted[1].transaction_id
        )
        assert {(p.account_id, p.amount_micros) for p in txn.postings} == {
            (a, -50),
            (b, -25),
            (sink, 75),
        }
        assert txn.actor_kind == "gateway"
        assert txn.meta == {"request_id": "k2"}

    async def test_a_replay_across_batches_returns_the_original(self, session: Session) -> None:
        a = await _wallet(session, 10_000)
        sink = await _sink(session)
        first = await ledger_service.post_specs(session, GATEWAY, [_spec("k", (a, 100), to=sink)])
        again = await ledger_service.post_specs(
            session, GATEWAY, [_spec("k", (a, 100), to=sink), _spec("k2", (a, 1), to=sink)]
        )
        assert again[0].replayed
        assert again[0].transaction_id == first[0].transaction_id
        assert not again[1].replayed
        assert await _balance(session, a) == 9_899

    async def test_a_replay_inside_one_batch_moves_money_once(self, session: Session) -> None:
        a = await _wallet(session, 10_000)
        sink = await _sink(session)
        posted = await ledger_service.post_specs(
            session, GATEWAY, [_spec("k", (a, 100), to=sink), _spec("k", (a, 100), to=sink)]
        )
        assert posted[1].replayed
        assert posted[1].transaction_id == posted[0].transaction_id
        assert await _balance(session, a) == 9_900
        count = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.idempotency_key == "k")
        )
        assert count == 1

    async def test_a_conflicting_replay_is_refused_alone(self, session: Session) -> None:
        a = await _wallet(session, 10_000)
        sink = await _sink(session)
        await ledger_service.post_specs(session, GATEWAY, [_spec("old", (a, 100), to=sink)])
        posted = await ledger_service.post_specs(
            session,
            GATEWAY,
            [
                _spec("old", (a, 999), to=sink),
                _spec("new", (a, 10), to=sink),
                _spec("new", (a, 11), to=sink),
            ],
        )
        assert [p.error.code if p.error else None for p in posted] == [
            "idempotency_conflict",
            None,
            "idempotency_conflict",
        ]
        assert posted[0].transaction_id is None
        assert await _balance(session, a) == 9_890

    async def test_a_missing_account_isolates_its_spec(self, session: Session) -> None:
        a = await _wallet(session, 10_000)
        sink = await _sink(session)
        ghost = uuid.uuid4()
        posted = await ledger_service.post_specs(
            session,
            GATEWAY,
            [
                _spec("g1", (a, 10), to=sink),
                _spec("bad", (ghost, 10), to=sink),
                _spec("g2", (a, 20), to=sink),
            ],
        )
        assert [p.error.code if p.error else None for p in posted] == [
            None,
            "ledger_account_not_found",
            None,
        ]
        assert await _balance(session, a) == 9_970
        keys = set((await session.execute(select(LedgerTransaction.idempotency_key))).scalars())
        assert "bad" not in keys
        assert {"g1", "g2"} <= keys

    async def test_an_unbalanced_or_keyless_spec_isolates_itself(self, session: Session) -> None:
        a = await _wallet(session, 10_000)
        sink = await _sink(session)
        unbalanced = LedgerTransactionSpec(
            kind=TransactionKind.USAGE, postings=((a, -5), (sink, 4)), idempotency_key="u"
        )
        posted = await ledger_service.post_specs(
            session,
            GATEWAY,
            [unbalanced, _spec("  ", (a, 1), to=sink), _spec("ok", (a, 3), to=sink)],
        )
        assert [p.error.code if p.error else None for p in posted] == [
            "unbalanced_transaction",
            "invalid",
            None,
        ]
        assert await _balance(session, a) == 9_997

    async def test_gateway_batches_record_no_change_rows_others_one_per_account(
        self, session: Session
    ) -> None:
        a = await _wallet(session, 10_000)
        sink = await _sink(session)

        async def changes() -> int:
            return int(await session.scalar(select(func.count()).select_from(ChangeFeedEntry)) or 0)

        before = await changes()
        specs = [_spec(f"g{i}", (a, 1), to=sink) for i in range(5)]
        await ledger_service.post_specs(session, GATEWAY, specs)
        assert await changes() == before
        specs = [_spec(f"s{i}", (a, 1), to=sink) for i in range(5)]
        await ledger_service.post_specs(session, SYSTEM_TEST, specs)
        assert await changes() == before + 2

    async def test_an_empty_batch_writes_nothing(self, session: Session) -> None:
        assert await ledger_service.post_specs(session, GATEWAY, []) == []


class TestLowBalanceInsideABatch:
    async def test_fires_once_at_the_spec_that_crosses(self, session: Session) -> None:
        wallet = await _wallet(session, 10_000_000, threshold=5_000_000)
        sink = await _sink(session)
        await ledger_service.post_specs(
            session,
            GATEWAY,
            [
                _spec("s1", (wallet, 4_000_000), to=sink),
                _spec("s2", (wallet, 2_000_000), to=sink),
                _spec("s3", (wallet, 1_000_000), to=sink),
            ],
        )
        assert await _notices(session) == [(wallet, "s2", 5_000_000, 4_000_000)]

    async def test_fires_again_after_a_credit_lifts_the_wallet_back(self, session: Session) -> None:
        wallet = await _wallet(session, 6_000_000, threshold=5_000_000)
        sink = await _sink(session)
        lift = LedgerTransactionSpec(
            kind=TransactionKind.REFUND,
            postings=((sink, -3_000_000), (wallet, 3_000_000)),
            idempotency_key="lift",
        )
        await ledger_service.post_specs(
            session,
            GATEWAY,
            [
                _spec("down1", (wallet, 2_000_000), to=sink),
                lift,
                _spec("down2", (wallet, 3_500_000), to=sink),
            ],
        )
        assert await _notices(session) == [
            (wallet, "down1", 5_000_000, 4_000_000),
            (wallet, "down2", 5_000_000, 3_500_000),
        ]

    async def test_uses_the_workspace_default_and_skips_disabled_wallets(
        self, session: Session
    ) -> None:
        await workspace_service.set_setting(
            session, local_actor(), name="low_balance_threshold", value="1"
        )
        plain = await _wallet(session, 2_000_000)
        silenced = await _wallet(session, 2_000_000)
        session.add(LowBalanceThreshold(account_id=silenced, threshold_micros=None, updated_by="t"))
        await session.flush()
        sink = await _sink(session)
        await ledger_service.post_specs(
            session,
            GATEWAY,
            [_spec("p", (plain, 1_500_000), to=sink), _spec("s", (silenced, 1_500_000), to=sink)],
        )
        assert await _notices(session) == [(plain, "p", 1_000_000, 500_000)]


@dataclass
class _World:
    wallets: list[uuid.UUID]
    sink: uuid.UUID


async def _world(session: Session) -> _World:
    wallets = [
        await _wallet(session, 8_000_000, threshold=t)
        for t in (5_000_000, 2_000_000, 7_500_000, 1, None, 3_000_000)
    ]
    return _World(wallets, await _sink(session))


def _table(seed: int, n: int) -> list[tuple[str, list[tuple[int, int]]]]:
    """Specs as (key, [(wallet index, debit)]): fresh keys, exact replays, conflicting replays
    and specs naming a wallet that does not exist (index -1)."""
    rnd = random.Random(seed)
    out: list[tuple[str, list[tuple[int, int]]]] = []
    for i in range(n):
        roll = rnd.random()
        if out and roll < 0.1:
            out.append(rnd.choice(out))
            continue
        if out and roll < 0.15:
            key, debits = rnd.choice(out)
            out.append((key, [(w, m + 1) for w, m in debits]))
            continue
        picks = rnd.sample(range(6), rnd.choice((1, 1, 2)))
        debits = [(w, rnd.randint(1, 1_500_000)) for w in picks]
        if roll > 0.97:
            debits = [(-1, 5)]
        out.append((f"t{i}", debits))
    return out


def _specs(
    table: list[tuple[str, list[tuple[int, int]]]], world: _World, prefix: str
) -> list[LedgerTransactionSpec]:
    ghost = uuid.UUID(int=1)
    return [
        _spec(
            f"{prefix}{key}",
            *((ghost if w < 0 else world.wallets[w], m) for w, m in debits),
            to=world.sink,
        )
        for key, debits in table
    ]


async def _state(session: Session, world: _World, prefix: str) -> dict[str, object]:
    index = {a: i for i, a in enumerate([*world.wallets, world.sink])}
    balances = [await _balance(session, a) for a in [*world.wallets, world.sink]]
    rows = (
        await session.execute(
            select(
                LedgerTransaction.idempotency_key,
                LedgerPosting.account_id,
                LedgerPosting.amount_micros,
            )
            .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
            .where(LedgerTransaction.idempotency_key.startswith(prefix))
        )
    ).all()
    postings = sorted((k.removeprefix(prefix), index[a], int(m)) for k, a, m in rows)
    notices = sorted(
        (index[a], k.removeprefix(prefix), t, b)
        for a, k, t, b in await _notices(session)
        if a in index
    )
    return {"balances": balances, "postings": postings, "notices": notices}


class TestBatchEqualsOneByOne:
    async def test_same_balances_postings_notices_and_outcomes(self, session: Session) -> None:
        for seed in (1, 2, 3):
            table = _table(seed, 120)
            one, batch = await _world(session), await _world(session)
            singles: list[str | None] = []
            for spec in _specs(table, one, f"one{seed}:"):
                try:
                    await ledger_service.post_spec(session, GATEWAY, spec)
                    singles.append(None)
                except SpectraError as exc:
                    singles.append(exc.code)
            posted = await ledger_service.post_specs(
                session, GATEWAY, _specs(table, batch, f"batch{seed}:")
            )
            assert [p.error.code if p.error else None for p in posted] == singles
            assert await _state(session, one, f"one{seed}:") == await _state(
                session, batch, f"batch{seed}:"
            )
            assert any(singles)
            assert any(p.replayed for p in posted)
            assert (await _state(session, batch, f"batch{seed}:"))["notices"]


class TestVerifyAfterABigBatch:
    async def test_thousands_of_specs_verify_clean(self, session: Session) -> None:
        wallets = [await _wallet(session, 1_000_000_000, threshold=500_000_000) for _ in range(20)]
        sink = await _sink(session)
        rnd = random.Random(7)
        specs = [
            _spec(f"v{i}", (rnd.choice(wallets), rnd.randint(1, 400_000)), to=sink)
            for i in range(3000)
        ]
        posted = await ledger_service.post_specs(session, GATEWAY, specs)
        assert all(p.error is None for p in posted)
        report = await verify_ledger(session)
        assert report.ok, report
        total = sum(m for s in specs for _, m in s.postings if m > 0)
        assert await _balance(session, sink) == total
