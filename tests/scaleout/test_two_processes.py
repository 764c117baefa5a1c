"""Two real `spectra serve` processes on one PostgreSQL + Redis: the overspend bound holds
across them, a revocation through one reaches the other within a second, a `kill -9` under
load leaves a ledger that verifies and its holds are swept after expiry, and a Redis outage
mid-load fails closed (`hold_store_unavailable`) and recovers by itself."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from tests.fakes.upstream import Reply
from tests.gateway.world import UNIT, expected_cost
from tests.support.redis import REDIS_URL, private_redis, require_redis

from spectra.providers import inspect_request
from spectra.providers.types import WireProtocol

from .cluster import Cluster, chat_body, cluster

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

MAX_TOKENS = 100


def _encoded(body: dict[str, object]) -> bytes:
    return json.dumps(body).encode()


def _estimate_micros(body: bytes) -> tuple[int, int]:
    """(hold micros, input tokens estimate) exactly as admission computes them for `body`."""
    info = inspect_request(WireProtocol.OPENAI_CHAT, body)
    return expected_cost(info.input_tokens_estimate, MAX_TOKENS), info.input_tokens_estimate


async def _post(http: httpx.AsyncClient, url: str, cl: Cluster, body: bytes) -> httpx.Response:
    return await http.post(
        f"{url}/v1/chat/completions",
        content=body,
        headers={**cl.world.headers(), "content-type": "application/json"},
        timeout=60,
    )


async def _two(cl: Cluster) -> tuple[str, str]:
    a, b = cl.start_server(), cl.start_server()
    await asyncio.gather(cl.wait_ready(a), cl.wait_ready(b))
    return a.url, b.url


async def _open_holds(cl: Cluster) -> int:
    client = aioredis.Redis.from_url(cl.redis_url)
    try:
        return int(await client.zcard(f"{cl.redis_prefix}holds"))
    finally:
        await client.aclose()


def _verify(cl: Cluster) -> dict[str, object]:
    done = cl.cli("ledger", "verify", "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    result: dict[str, object] = json.loads(done.stdout)
    return result


async def test_fifty_requests_across_two_processes_spend_at_most_the_allowance(
    tmp_path: Path,
) -> None:
    require_redis()
    sample = _encoded(chat_body(MAX_TOKENS))
    hold, input_estimate = _estimate_micros(sample)
    # Each request costs exactly its hold, so an allowance of ten holds serves exactly ten.
    reply = Reply(input_tokens=input_estimate, output_tokens=MAX_TOKENS)
    async with cluster(tmp_path, redis_url=REDIS_URL, default=reply) as cl:
        await cl.world.recharge(str(Decimal(10 * hold) / UNIT))
        a, b = await _two(cl)
        async with httpx.AsyncClient() as http:
            results = await asyncio.gather(
                *(
                    _post(http, (a, b)[i % 2], cl, _encoded(chat_body(MAX_TOKENS)))
                    for i in range(50)
                )
            )
        statuses = [r.status_code for r in results]
        assert statuses.count(200) <= 10
        assert statuses.count(200) + statuses.count(402) == 50
        codes = {r.json()["error"]["code"] for r in results if r.status_code == 402}
        assert codes <= {"insufficient_funds", "wallet_empty"}, codes
        for server in cl.servers:
            server.stop()
        wallet = await cl.world.wallet_id()
        balance = await cl.world.balance(wallet)
        # The documented bound: a cost never exceeds its hold here, so never below zero.
        assert balance >= 0
        assert balance == 10 * hold - statuses.count(200) * hold
        assert _verify(cl)["ok"] is True


async def test_a_key_revoked_through_one_process_is_refused_by_the_other_within_a_second(
    tmp_path: Path,
) -> None:
    require_redis()
    async with cluster(tmp_path, redis_url=REDIS_URL) as cl:
        await cl.world.recharge("5")
        token = await _owner_token(cl)
        a, b = await _two(cl)
        async with httpx.AsyncClient() as http:
            body = _encoded(chat_body())
            assert (await _post(http, b, cl, body)).status_code == 200
            revoked = await http.post(
                f"{a}/api/keys/{cl.world.key_id}/revoke",
                headers={"authorization": f"Bearer {token}"},
                json={"reason": "left the team"},
            )
            assert revoked.status_code == 200, revoked.text
            started = time.monotonic()
            refused_after = None
            while time.monotonic() - started < 10:
                answer = await _post(http, b, cl, _encoded(chat_body()))
                if answer.status_code == 401:
                    refused_after = time.monotonic() - started
                    break
                await asyncio.sleep(0.05)
        assert refused_after is not None
        assert refused_after < 1.0


async def _owner_token(cl: Cluster) -> str:
    from tests.factories import make_user

    from spectra.audit.actor import local_actor
    from spectra.db.session import session_scope
    from spectra.keys import service as keys_service

    async with session_scope(cl.runtime.db) as session:
        owner = await make_user(session, role="owner")
        _, secret = await keys_service.create_token(session, local_actor(), user_id=owner.id)
    return secret


async def test_kill_9_under_load_leaves_a_ledger_that_verifies_and_its_holds_expire(
    tmp_path: Path,
) -> None:
    require_redis()
    slow = Reply(text="a b c d e f g h", pieces=8, chunk_delay=0.5)
    async with cluster(
        tmp_path, redis_url=REDIS_URL, default=slow, settings={"hold_expiry_seconds": "3"}
    ) as cl:
        await cl.world.recharge("5")
        a, b = await _two(cl)
        victim = cl.servers[0]
        async with httpx.AsyncClient() as http:
            load = [
                asyncio.ensure_future(_post(http, a, cl, _encoded(chat_body(stream=True))))
                for _ in range(10)
            ]
            await asyncio.sleep(1.0)
            assert await _open_holds(cl) > 0
            victim.kill9()
            await asyncio.gather(*load, return_exceptions=True)
            # The survivor sweeps the dead process's holds once they expire (3 s + a sweep).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and await _open_holds(cl):
                await asyncio.sleep(0.25)
            assert await _open_holds(cl) == 0
            answer = await _post(http, b, cl, _encoded(chat_body()))
            assert answer.status_code == 200
        cl.servers[1].stop()
        assert _verify(cl)["ok"] is True


async def test_a_redis_outage_fails_closed_and_recovers_by_itself(tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        async with cluster(tmp_path, redis_url=server.url) as cl:
            await cl.world.recharge("5")
            a, b = await _two(cl)
            wallet = await cl.world.wallet_id()
            async with httpx.AsyncClient() as http:
                ok = await asyncio.gather(
                    *(_post(http, u, cl, _encoded(chat_body())) for u in (a, b))
                )
                assert [r.status_code for r in ok] == [200, 200]
                server.stop()
                # A process may first serve what it already leased (money set aside for it:
                # no overspend); its first settlement that finds Redis down drops its leases,
                # and from then on it fails closed.
                for _ in range(40):
                    first = await _post(http, a, cl, _encoded(chat_body()))
                    if first.status_code == 503:
                        break
                    assert first.status_code == 200
                for _ in range(40):
                    first = await _post(http, b, cl, _encoded(chat_body()))
                    if first.status_code == 503:
                        break
                    assert first.status_code == 200
                down = await asyncio.gather(
                    *(_post(http, u, cl, _encoded(chat_body())) for u in (a, b, a, b))
                )
                assert {r.status_code for r in down} == {503}
                assert {r.json()["error"]["code"] for r in down} == {"hold_store_unavailable"}
                server.start()  # empty: a restart without persistence loses every key
                deadline = time.monotonic() + 20
                back: list[int] = []
                while time.monotonic() < deadline:
                    back = [
                        (await _post(http, u, cl, _encoded(chat_body()))).status_code
                        for u in (a, b)
                    ]
                    if back == [200, 200]:
                        break
                    await asyncio.sleep(0.25)
                assert back == [200, 200]
            for s in cl.servers:
                s.stop()
            records = await cl.world.records()
            charged = sum(r.cost_micros for r in records if r.status == "ok")
            assert await cl.world.balance(wallet) == 5 * UNIT - charged
            assert _verify(cl)["ok"] is True
