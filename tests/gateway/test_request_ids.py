"""A caller's `x-request-id` is echoed and logged, never trusted to key money: every request is
charged under a server-made key, whatever id the caller repeats or borrows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.factories import make_user
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.db.session import read_scope, session_scope
from spectra.keys import service as keys_service
from spectra.ledger.models import LedgerTransaction

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, OWNER, World, expected_cost

FIXED_ID = "trace-fixed-0001"

ENDPOINTS: list[tuple[str, str, bool, dict[str, Any]]] = [
    (
        "messages",
        "/v1/messages",
        True,
        {
            "model": ANTHROPIC_MODEL,
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "x"}],
        },
    ),
    (
        "chat",
        "/v1/chat/completions",
        False,
        {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "x"}]},
    ),
    ("responses", "/v1/responses", False, {"model": OPENAI_MODEL, "input": "x"}),
]


async def _usage_transactions(world: World) -> int:
    async with read_scope(world.runtime.db) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.idempotency_key.like("usage:%"))
        )
    return int(count or 0)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("name", "path", "anthropic", "body"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
async def test_a_repeated_request_id_charges_every_request(
    client: httpx.AsyncClient,
    pooled: World,
    fake: FakeUpstream,
    name: str,
    path: str,
    anthropic: bool,
    body: dict[str, Any],
    stream: bool,
) -> None:
    fake.default = Reply(text="ok", input_tokens=40, output_tokens=10)
    wallet = await pooled.wallet_id()
    before = await pooled.balance(wallet)
    for _ in range(3):
        resp = await client.post(
            path,
            headers={**pooled.headers(anthropic=anthropic), "x-request-id": FIXED_ID},
            json={**body, "stream": stream},
        )
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-request-id"] == FIXED_ID
    await pooled.settle()
    records = await pooled.records()
    assert [r.request_id for r in records] == [FIXED_ID] * 3
    assert all(r.ledger_transaction_id is not None for r in records)
    assert len({r.ledger_transaction_id for r in records}) == 3
    assert await _usage_transactions(pooled) == 3
    cost = expected_cost(40, 10)
    assert all(r.cost_micros == cost for r in records)
    assert await pooled.balance(wallet) == before - 3 * cost


async def test_two_members_with_the_same_request_id_are_both_charged(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.default = Reply(text="ok", input_tokens=40, output_tokens=10)
    async with session_scope(pooled.runtime.db) as session:
        other = await make_user(session, group_id=pooled.group_id)
        _, other_secret = await keys_service.create_key(
            session, OWNER, user_id=other.id, name="other", scopes=[]
        )
    await pooled.recharge("10", group=True)
    body = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "x"}]}
    for secret in (pooled.secret, other_secret):
        resp = await client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {secret}", "x-request-id": FIXED_ID},
            json=body,
        )
        assert resp.status_code == 200, resp.text
    await pooled.settle()
    records = await pooled.records()
    assert {r.user_id for r in records} == {pooled.user_id, other.id}
    assert all(r.ledger_transaction_id is not None for r in records)
    assert all(r.cost_micros == expected_cost(40, 10) for r in records)
    assert await _usage_transactions(pooled) == 2
