"""Deprovisioning through SCIM reaches the gateway: right after `active=false` or DELETE, the
member's key is refused (the change feed carries the user's status); wallet and history stay."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from tests.scim.conftest import SCIM, SCIM_JSON, make_owner_and_token

from .world import ANTHROPIC_MODEL, World

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DEADLINE_S = 10.0


async def _ask(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post(
        "/v1/messages",
        headers=world.headers(anthropic=True),
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )


async def _refused_within_deadline(client: httpx.AsyncClient, world: World) -> httpx.Response:
    """Poll the gateway as every process does (its feed poll), with a generous deadline."""
    started = time.monotonic()
    while True:
        await world.sync()
        answer = await _ask(client, world)
        if answer.status_code != 200 or time.monotonic() - started > DEADLINE_S:
            return answer
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("how", ["patch_active_false", "delete"])
async def test_deprovisioned_members_key_is_refused_at_once(
    client: httpx.AsyncClient, pooled: World, how: str
) -> None:
    token = await make_owner_and_token(pooled.runtime)
    scim_headers = {"authorization": f"Bearer {token}", "content-type": SCIM_JSON}
    assert (await _ask(client, pooled)).status_code == 200
    await pooled.settle()
    wallet = await pooled.wallet_id()
    balance_before = await pooled.balance(wallet)
    records_before = len(await pooled.records())
    path = f"{SCIM}/Users/{pooled.user_id}"
    if how == "delete":
        done = await client.delete(path, headers=scim_headers)
        assert done.status_code == 204, done.text
    else:
        body = {
            "schemas": [PATCH],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        }
        done = await client.patch(path, json=body, headers=scim_headers)
        assert done.status_code == 200, done.text
    refused = await _refused_within_deadline(client, pooled)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["reason_code"] == "user_suspended"
    assert await pooled.balance(wallet) == balance_before
    assert len(await pooled.records()) == records_before
