"""Two real `spectra serve` processes on one PostgreSQL + Redis share a key's hard budget: fifty
concurrent requests through both never charge more than the budget plus one request's hold.

The bound (docs/budgets.md): each admission reserves its estimate in Redis with one atomic
check-and-add (spent + in flight + estimate <= budget), so the admitted requests' estimates
together fit the budget; a request is charged at most its hold here (the fake reports exactly
the held tokens), so total charged <= budget, within the stated bound of budget + one hold.
Without the shared counters each process would admit a full budget (2x)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.fakes.upstream import Reply
from tests.gateway.world import UNIT
from tests.support.redis import REDIS_URL, require_redis

from spectra.audit.actor import local_actor
from spectra.budgets import service as budgets_service
from spectra.budgets.schemas import KeyBudgetChange
from spectra.db.session import read_scope, session_scope
from spectra.usage.models import UsageRecord

from .cluster import chat_body, cluster
from .test_two_processes import MAX_TOKENS, _encoded, _estimate_micros, _post, _two

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

HOLDS_IN_BUDGET = 10


async def test_fifty_requests_across_two_processes_stay_within_one_key_budget(
    tmp_path: Path,
) -> None:
    require_redis()
    hold, input_estimate = _estimate_micros(_encoded(chat_body(MAX_TOKENS)))
    budget = HOLDS_IN_BUDGET * hold
    reply = Reply(input_tokens=input_estimate, output_tokens=MAX_TOKENS)
    async with cluster(tmp_path, redis_url=REDIS_URL, default=reply) as cl:
        await cl.world.recharge(str(Decimal(100 * hold) / UNIT))  # funds are not the limit
        async with session_scope(cl.runtime.db) as session:
            await budgets_service.set_key_budget(
                session,
                local_actor(),
                key_id=cl.world.key_id,
                changes=KeyBudgetChange.model_validate(
                    {"day": str(Decimal(budget) / UNIT), "mode": "hard"}
                ),
            )
        a, b = await _two(cl)
        async with httpx.AsyncClient() as http:
            results = await asyncio.gather(
                *(
                    _post(http, (a, b)[i % 2], cl, _encoded(chat_body(MAX_TOKENS)))
                    for i in range(50)
                )
            )
        served = [r for r in results if r.status_code == 200]
        refused = [r for r in results if r.status_code != 200]
        codes = {r.json()["error"]["code"] for r in refused}
        assert codes == {"key_budget_exhausted"}, codes
        assert 1 <= len(served) <= HOLDS_IN_BUDGET
        for server in cl.servers:
            server.stop()  # settlements written before we count
        async with read_scope(cl.runtime.db) as session:
            charged = (
                await session.execute(
                    select(func.coalesce(func.sum(UsageRecord.cost_micros), 0)).where(
                        UsageRecord.key_id == cl.world.key_id
                    )
                )
            ).scalar_one()
        assert charged == len(served) * hold
        assert charged <= budget + hold  # the documented bound
        assert charged <= budget  # and here, where no cost exceeds its hold, the budget itself
