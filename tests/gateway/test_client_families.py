"""Group policy's allowed clients, applied by the gateway to the tools' real user agents."""

from __future__ import annotations

import httpx

from spectra.db.session import session_scope
from spectra.policy import service as policy_service
from spectra.policy.repository import GroupRules

from .world import OWNER, World

OPENCODE = "opencode/1.0.150"
QWEN_CODE = "QwenCode/0.6.1 (linux; x64)"
CLINE = "Cline/3.38.1"


async def _chat(client: httpx.AsyncClient, world: World, user_agent: str) -> httpx.Response:
    body = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}
    headers = {**world.headers(), "user-agent": user_agent}
    return await client.post("/v1/chat/completions", headers=headers, json=body)


async def test_allowed_clients_admit_and_refuse_by_real_user_agent(
    client: httpx.AsyncClient, pooled: World
) -> None:
    async with session_scope(pooled.runtime.db) as session:
        await policy_service.apply_group_rules(
            session,
            OWNER,
            group_id=pooled.group_id,
            rules=GroupRules(allowed_clients=("opencode", "qwen_code")),
        )
    await pooled.sync()
    assert (await _chat(client, pooled, OPENCODE)).status_code == 200
    assert (await _chat(client, pooled, QWEN_CODE)).status_code == 200
    refused = await _chat(client, pooled, CLINE)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "client_not_allowed"
    assert "cline" in refused.json()["error"]["message"]
    await pooled.settle()
    records = await pooled.records()
    assert [(r.client_family, r.refusal_reason) for r in records] == [
        ("opencode", None),
        ("qwen_code", None),
        ("cline", "client_not_allowed"),
    ]
