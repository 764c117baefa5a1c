"""Fuzz the gateway's request bodies through the real app, a real database and the fake upstream:
malformed, oversized, deeply nested, duplicate-key and wrong-typed bodies on every endpoint.
Never a 5xx; afterwards every ledger charge has its usage record and every charged usage record
its charge, and the ledger verifies."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.db.session import read_scope
from spectra.gateway import wiring as gateway_wiring
from spectra.ledger.models import LedgerTransaction
from spectra.ledger.verify import verify_ledger
from spectra.usage.models import UsageRecord

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World

MAX_BODY = 64 * 1024
"""The gateway's body limit during the fuzz, so "oversized" stays cheap to send."""

ENDPOINTS = {
    "/v1/messages": (True, ANTHROPIC_MODEL),
    "/v1/messages/count_tokens": (True, ANTHROPIC_MODEL),
    "/v1/chat/completions": (False, OPENAI_MODEL),
    "/v1/responses": (False, OPENAI_MODEL),
}
KEYS = [
    "model",
    "messages",
    "input",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "stream",
    "stream_options",
    "system",
    "tools",
    "prompt_cache_key",
    "previous_response_id",
    "x",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _render(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


@st.composite
def object_bodies(draw: st.DrawFn, model: str) -> bytes:
    """A JSON object as text, keys possibly repeated, values often right and often not."""
    pairs: list[tuple[str, str]] = []
    if draw(st.booleans()):
        pairs.append(("model", _render(model)))
    if draw(st.booleans()):
        pairs.append(("messages", _render([{"role": "user", "content": "hi"}])))
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=5)):
        pairs.append((key, _render(draw(json_values))))
    if draw(st.booleans()):
        pairs.append(("stream", draw(st.sampled_from(["true", "false", "1", '"true"', "null"]))))
    if draw(st.booleans()):
        limit = draw(st.sampled_from(["max_tokens", "max_completion_tokens", "max_output_tokens"]))
        value = draw(
            st.sampled_from(["10", "0", "-1", "1e400", "NaN", "Infinity", "2.5", "9" * 400])
        )
        pairs.append((limit, value))
    pairs = draw(st.permutations(pairs))
    return ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}").encode()


@st.composite
def bodies(draw: st.DrawFn, model: str) -> bytes:
    kind = draw(st.sampled_from(["object", "object", "object", "raw", "nested", "big", "value"]))
    if kind == "raw":
        return draw(st.binary(max_size=64))
    if kind == "nested":
        depth = draw(st.integers(min_value=500, max_value=50_000))
        opener = draw(st.sampled_from(["[", '{"a":']))
        closer = "]" if opener == "[" else "}"
        inner = opener * depth + "1" + closer * depth
        return f'{{"model":{_render(model)},"messages":[],"x":{inner}}}'.encode()
    if kind == "big":
        size = draw(st.integers(min_value=MAX_BODY - 64, max_value=MAX_BODY + 64))
        return f'{{"model":{_render(model)},"messages":[],"x":"{"a" * size}"}}'.encode()
    if kind == "value":
        return _render(draw(json_values)).encode()
    body: bytes = draw(object_bodies(model))
    return body


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bool, bytes]:
    path = draw(st.sampled_from(sorted(ENDPOINTS)))
    anthropic, model = ENDPOINTS[path]
    return path, anthropic, draw(bodies(model))


async def _check_money(world: World) -> None:
    await world.settle()
    async with read_scope(world.runtime.db) as session:
        usage_txns = set(
            (
                await session.execute(
                    select(LedgerTransaction.id).where(
                        LedgerTransaction.idempotency_key.like("usage:%")
                    )
                )
            )
            .scalars()
            .all()
        )
        records = (
            await session.execute(
                select(UsageRecord.ledger_transaction_id, UsageRecord.cost_micros)
            )
        ).all()
        report = await verify_ledger(session)
    recorded = [txn for txn, _ in records if txn is not None]
    assert sorted(map(str, recorded)) == sorted(map(str, usage_txns))  # one record per charge
    assert all(txn is not None for txn, cost in records if cost > 0)
    assert report.ok, report.problems


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
async def test_no_body_makes_a_5xx_or_breaks_the_money(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, request: tuple[str, bool, bytes]
) -> None:
    path, anthropic, body = request
    gw = gateway_wiring.current()
    assert gw is not None
    limit, gw.settings.gateway_max_body_bytes = gw.settings.gateway_max_body_bytes, MAX_BODY
    fake.default = Reply(text="fuzz", input_tokens=12, output_tokens=3)
    try:
        resp = await client.post(
            path,
            headers={**pooled.headers(anthropic=anthropic), "content-type": "application/json"},
            content=body,
        )
    finally:
        gw.settings.gateway_max_body_bytes = limit
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    if resp.status_code >= 400 and "x-spectra-upstream-error" not in resp.headers:
        answer = resp.json()
        assert answer["error"]["reason_code"] == resp.headers["x-spectra-reason"]
        assert (answer.get("type") == "error") is anthropic
    await _check_money(pooled)
