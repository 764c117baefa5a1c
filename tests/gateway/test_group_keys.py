"""A key bound to one of its owner's secondary groups: the gateway attributes its spend to that
group (usage records, the group's wallet and policy), the owner's other keys to the primary
group; leaving the group falls the key back to the primary group within a feed poll."""

from __future__ import annotations

import httpx
from tests.factories import make_group
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.users import service as users_service

from .world import ANTHROPIC_MODEL, World


async def _ask(client: httpx.AsyncClient, secret: str) -> None:
    response = await client.post(
        "/v1/messages",
        headers={"x-api-key": secret, "anthropic-version": "2023-06-01"},
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert response.status_code == 200, response.text


async def test_spend_of_a_bound_key_is_attributed_to_its_group(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    async with session_scope(pooled.runtime.db) as session:
        project = await make_group(session, name="project-x")
        await users_service.add_membership(
            session, local_actor(), user=pooled.user_id, group=project.id
        )
        _, bound = await keys_service.create_key(
            session, local_actor(), user_id=pooled.user_id, group=project.name
        )
    await pooled.sync()
    for secret in (bound, pooled.secret):
        fake.script(Reply(text="ok", input_tokens=10, output_tokens=3))
        await _ask(client, secret)
    await pooled.settle()
    assert [r.group_id for r in await pooled.records()] == [project.id, pooled.group_id]

    async with session_scope(pooled.runtime.db) as session:
        await users_service.remove_membership(
            session, local_actor(), user=pooled.user_id, group=project.id
        )
    await pooled.sync()
    fake.script(Reply(text="ok", input_tokens=10, output_tokens=3))
    await _ask(client, bound)
    await pooled.settle()
    assert [r.group_id for r in await pooled.records()][-1] == pooled.group_id
