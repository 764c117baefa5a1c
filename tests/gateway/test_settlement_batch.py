"""Durable settlement: a committer batch posts every settlement through one `post_specs`, the
usage records carry their ledger transaction, a bad spec sinks only itself, and a full
settlement backlog makes admission wait, then refuse `settlement_backlog`."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from tests.fakes.upstream import FakeUpstream, Reply
from tests.ledger.factories import fund

from spectra.db.session import read_scope, session_scope
from spectra.gateway import wiring as gateway_wiring
from spectra.gateway.settlement import Settler, base_record
from spectra.ledger import service as ledger_service
from spectra.ledger.holds import InProcessBalanceView, LedgerTransactionSpec
from spectra.ledger.models import AccountKind, LedgerTransaction, TransactionKind
from spectra.ledger.verify import verify_ledger
from spectra.runtime import Runtime
from spectra.usage.models import UsageRecord
from spectra.usage.schemas import UsageRecordCreate

from .world import ANTHROPIC_MODEL, World


def _record(request_id: str, status: str = "ok", reason: str | None = None) -> UsageRecordCreate:
    record = base_record(
        request_id=request_id,
        protocol="anthropic",
        model=ANTHROPIC_MODEL,
        admission=None,
        client_family="other",
    )
    if reason is None:
        return record
    return replace(record, status=status, refusal_reason=reason, refusal_rule="test")


async def test_a_batch_posts_every_settlement_and_a_bad_spec_sinks_only_itself(
    runtime: Runtime,
) -> None:
    view = InProcessBalanceView(runtime.db)
    await view.start()
    async with session_scope(runtime.db) as session:
        wallet = await ledger_service.get_or_create_account(
            session, kind=AccountKind.USER_WALLET, owner_id=uuid.uuid4()
        )
        await fund(session, wallet, 1_000_000)
    settler = Settler(runtime.committer, view)
    for i in range(50):
        hold = await view.reserve(
            f"r{i}", [(wallet.id, None)], amount=100, expires_in=timedelta(minutes=5)
        )
        spec = await view.settle(hold, 120, idempotency_key=f"usage:r{i}")
        settler._submit(_record(f"r{i}"), spec)
    assert view.expense_account_id is not None
    ghost = LedgerTransactionSpec(
        kind=TransactionKind.USAGE,
        postings=((uuid.uuid4(), -5), (view.expense_account_id, 5)),
        idempotency_key="usage:ghost",
    )
    settler._submit(_record("ghost"), ghost)
    settler.record(_record("refused", status="refused", reason="insufficient_funds"))
    await settler.flush()

    assert settler.failed == 1
    async with read_scope(runtime.db) as session:
        records = {r.request_id: r for r in (await session.execute(select(UsageRecord))).scalars()}
        keys = dict(
            (
                await session.execute(
                    select(LedgerTransaction.id, LedgerTransaction.idempotency_key)
                )
            ).all()
        )
        balance = (await ledger_service.get_balances(session, [wallet.id]))[wallet.id]
        report = await verify_ledger(session)
    assert "ghost" not in records
    assert records["refused"].ledger_transaction_id is None
    for i in range(50):
        txn_id = records[f"r{i}"].ledger_transaction_id
        assert txn_id is not None
        assert keys[txn_id] == f"usage:r{i}"
    assert balance == 1_000_000 - 50 * 120
    assert await view.available(wallet.id) == balance
    assert report.ok
    await view.stop()


async def test_a_full_backlog_refuses_settlement_backlog_without_recording_it(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = gateway_wiring.current()
    assert gw is not None
    monkeypatch.setattr(pooled.runtime.committer, "max_queue", 0)
    monkeypatch.setattr(gw.settings, "commit_backlog_wait", 0.0)
    body = {
        "model": ANTHROPIC_MODEL,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body)
    assert resp.status_code == 503
    assert resp.json()["error"]["reason_code"] == "settlement_backlog"
    assert int(resp.headers["retry-after"]) >= 1

    monkeypatch.setattr(pooled.runtime.committer, "max_queue", 10_000)
    fake.script(Reply(text="ok", input_tokens=10, output_tokens=2))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body)
    assert resp.status_code == 200
    await pooled.settle()
    assert [(r.status, r.refusal_reason) for r in await pooled.records()] == [("ok", None)]
    assert gw.settler.dropped == 1


async def test_a_cancelled_flush_leaves_queued_settlements_to_commit(runtime: Runtime) -> None:
    view = InProcessBalanceView(runtime.db)
    await view.start()
    async with session_scope(runtime.db) as session:
        wallet = await ledger_service.get_or_create_account(
            session, kind=AccountKind.USER_WALLET, owner_id=uuid.uuid4()
        )
        await fund(session, wallet, 1_000)
    settler = Settler(runtime.committer, view)
    hold = await view.reserve(
        "c1", [(wallet.id, None)], amount=100, expires_in=timedelta(minutes=5)
    )
    spec = await view.settle(hold, 100, idempotency_key="usage:c1")
    settler._submit(_record("c1"), spec)
    waiting = asyncio.ensure_future(settler.flush())
    await asyncio.sleep(0)
    waiting.cancel()
    await settler.flush()
    assert settler.failed == 0
    assert await view.available(wallet.id) == 900
    async with read_scope(runtime.db) as session:
        assert (await ledger_service.get_balances(session, [wallet.id]))[wallet.id] == 900
    await view.stop()
