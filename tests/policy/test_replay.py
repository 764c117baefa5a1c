"""The dry-run's promise, checked end to end: the refusals it predicts for the recorded requests
are exactly the refusals the HTTP gateway gives when the same requests are replayed after the
draft is published. And the caps, enforced on the hot path from the in-memory counters."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from tests.gateway.world import OWNER, World

from spectra.audit.models import AuditEvent
from spectra.db.session import read_scope, session_scope
from spectra.policy import drafts as drafts_service
from spectra.policy.schemas import GroupPolicyChange
from spectra.users import service as users_service

CLAUDE_CODE = "claude-cli/2.1.197 (external, cli)"
CODEX = "codex_exec/0.171.0 (Linux; x86_64)"
OPENAI_SDK = "OpenAI/Python 1.99.0"
ANTHROPIC_SDK = "Anthropic/Python 0.60.0"

# (protocol, model, user agent)
REQUESTS = [
    ("anthropic", "claude-sonnet-4-5", CLAUDE_CODE),
    ("anthropic", "claude-opus-4-8", CLAUDE_CODE),
    ("openai", "gpt-5", OPENAI_SDK),
    ("openai", "gpt-5-codex", CODEX),
    ("anthropic", "claude-sonnet-4-5", ANTHROPIC_SDK),
    ("anthropic", "claude-opus-4-8", ANTHROPIC_SDK),
]


async def _send(
    client: httpx.AsyncClient, world: World, protocol: str, model: str, ua: str
) -> httpx.Response:
    messages = [{"role": "user", "content": "hi"}]
    if protocol == "anthropic":
        return await client.post(
            "/v1/messages",
            headers={**world.headers(anthropic=True), "user-agent": ua},
            json={"model": model, "max_tokens": 100, "messages": messages},
        )
    return await client.post(
        "/v1/chat/completions",
        headers={**world.headers(), "user-agent": ua},
        json={"model": model, "max_tokens": 100, "messages": messages},
    )


def _reason(resp: httpx.Response) -> str | None:
    if resp.status_code == 200:
        return None
    body: dict[str, Any] = resp.json()
    return str(body["error"]["reason_code"])


async def test_dry_run_predicts_exactly_what_the_gateway_refuses(
    client: httpx.AsyncClient, pooled: World
) -> None:
    for protocol, model, ua in REQUESTS:
        resp = await _send(client, pooled, protocol, model, ua)
        assert resp.status_code == 200, resp.text
    await pooled.settle()

    change = GroupPolicyChange(
        denied_models=["claude-opus-*"], allowed_clients=["claude_code", "codex_cli"]
    )
    async with session_scope(pooled.runtime.db) as session:
        draft = await drafts_service.create_draft(
            session, OWNER, group=pooled.group_id, change=change
        )
        draft = await drafts_service.dry_run(session, OWNER, draft_id=draft.id, days=7)
        draft_id = draft.id
        result = draft.dry_run
    assert result is not None
    predicted = [(r["model"], r["client"], r["reason_code"]) for r in result["refused_requests"]]
    assert result["requests_evaluated"] == len(REQUESTS)
    assert result["would_refuse"] == len(predicted) == 4
    assert result["newly_refused"] == 4
    assert result["would_refuse_by_reason"] == {"client_not_allowed": 2, "model_denied": 2}
    assert result["members_losing"] == 1

    async with session_scope(pooled.runtime.db) as session:
        await drafts_service.publish_draft(session, OWNER, draft_id=draft_id)
    await pooled.sync()

    actual = []
    for protocol, model, ua in REQUESTS:
        resp = await _send(client, pooled, protocol, model, ua)
        reason = _reason(resp)
        if reason is not None:
            family = {CLAUDE_CODE: "claude_code", CODEX: "codex_cli", OPENAI_SDK: "openai_sdk"}
            actual.append((model, family.get(ua, "anthropic_sdk"), reason))
    assert actual == predicted
    assert predicted == [
        ("claude-opus-4-8", "claude_code", "model_denied"),
        ("gpt-5", "openai_sdk", "client_not_allowed"),
        ("claude-sonnet-4-5", "anthropic_sdk", "client_not_allowed"),
        ("claude-opus-4-8", "anthropic_sdk", "model_denied"),
    ]
    await pooled.settle()
    records = await pooled.records()
    replayed = [r for r in records if r.status == "refused"]
    assert [(r.model_requested, r.client_family, r.refusal_reason) for r in replayed] == predicted
    assert {r.refusal_rule for r in replayed} == {"group_deny", "client"}

    async with read_scope(pooled.runtime.db) as session:
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "policy.publish"))
        ).scalar_one()
    assert _d(event.details)["dry_run"]["would_refuse"] == 4
    assert _d(event.details)["confirmed_without_dry_run"] is False
    assert _d(event.after)["denied_models"] == ["claude-opus-*"]


async def test_member_cap_is_enforced_from_settled_spend(
    client: httpx.AsyncClient, pooled: World
) -> None:
    async with session_scope(pooled.runtime.db) as session:
        await users_service.update_group(
            session, OWNER, group=pooled.group_id, member_monthly_cap_micros=1
        )
    await pooled.sync()
    first = await _send(client, pooled, "anthropic", "claude-sonnet-4-5", CLAUDE_CODE)
    assert first.status_code == 200, first.text
    await pooled.flush()
    second = await _send(client, pooled, "anthropic", "claude-sonnet-4-5", CLAUDE_CODE)
    assert second.status_code == 402
    assert _reason(second) == "member_cap_reached"
    async with read_scope(pooled.runtime.db) as session:
        from spectra.policy import service as policy_service

        decision = await policy_service.explain(
            session, OWNER, user=pooled.email, model="claude-sonnet-4-5"
        )
    assert decision.reason_code == "member_cap_reached"
    step = next(s for s in decision.trace if s.rule == "member_cap")
    assert step.inputs["cap_micros"] == 1
    assert step.inputs["spent_micros"] > 1


def _d(value: dict[str, Any] | None) -> dict[str, Any]:
    assert value is not None
    return value
