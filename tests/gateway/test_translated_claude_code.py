"""Claude Code 2.1.332's recorded tool-result turn (tests/fixtures/client-recordings/current),
replayed whole through the gateway, headers included, to a pool whose only account speaks Chat
Completions: its mid-conversation `role: "system"` message (the one after the prompt, and the
same one moved after the tool result, where 2.1.33x also puts it), its per-turn `output_config`,
its tool change and its betas reach the Chat fake as Chat, and the answer comes back as the
Anthropic stream Claude Code reads, charged at the upstream's usage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from tests.fakes.upstream import FakeUpstream, Reply

from .test_translated import CLAUDE
from .world import World, expected_cost

RECORDING = (
    Path(__file__).parents[1]
    / "fixtures"
    / "client-recordings"
    / "current"
    / "claude-code-tool.jsonl"
)
DROPPED_HEADERS = ("x-api-key", "connection", "accept-encoding")


@pytest_asyncio.fixture
async def chat_only(world: World, fake: FakeUpstream) -> World:
    """One OpenAI-compatible (Chat Completions) account serving Claude models."""
    await world.add_account(
        "compat", provider="openai_compatible", base_url=fake.url, models=["claude-*"]
    )
    await world.recharge("10")
    return world


def _recorded_turn() -> tuple[dict[str, str], dict[str, Any]]:
    """The second request (the turn with the tool result): its headers and body, whole."""
    record = json.loads(RECORDING.read_text().splitlines()[1])
    headers = {k: v for k, v in record["headers"].items() if k not in DROPPED_HEADERS}
    return headers, record["body"]


async def _replay(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    body["model"] = CLAUDE  # the recording asks claude-opus-5-5; the fixture's pool serves claude-*
    return await client.post(
        "/v1/messages?beta=true", headers={**headers, **world.headers(anthropic=True)}, json=body
    )


def _stream_text(raw: str) -> str:
    events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    assert events[0]["type"] == "message_start"
    assert events[-1]["type"] == "message_stop"
    return "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")


@pytest.mark.parametrize("placement", ["recorded", "after the tool result"])
async def test_claude_code_tool_result_turn_reaches_a_chat_account(
    client: httpx.AsyncClient, chat_only: World, fake: FakeUpstream, placement: str
) -> None:
    headers, body = _recorded_turn()
    assert [m["role"] for m in body["messages"]] == ["user", "system", "assistant", "user"]
    note = body["messages"][1]
    assert note["output_config"] == {"effort": "medium"}  # per-turn-control, on the message
    if placement != "recorded":
        body["messages"].append(body["messages"].pop(1))
    (use,) = body["messages"][1 if placement != "recorded" else 2]["content"]
    assert "per-turn-control-2026-07-01" in headers["anthropic-beta"]
    fake.script(Reply(text="spectra-tool-ok is in tool-proof.txt", pieces=3, output_tokens=11))

    resp = await _replay(client, chat_only, body, headers)

    assert resp.status_code == 200, resp.text
    assert _stream_text(resp.text) == "spectra-tool-ok is in tool-proof.txt"
    (sent,) = fake.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.header("anthropic-beta") is None  # an Anthropic header means nothing there
    chat = sent.json()
    roles = [m["role"] for m in chat["messages"]]
    if placement == "recorded":
        assert roles == ["system", "user", "system", "assistant", "tool"]
        assert chat["messages"][2]["content"] == note["content"]
    else:
        assert roles == ["system", "user", "assistant", "tool", "system"]
        assert chat["messages"][-1]["content"] == note["content"]  # still after the result
    call = next(m for m in chat["messages"] if m["role"] == "assistant")["tool_calls"][0]
    result = next(m for m in chat["messages"] if m["role"] == "tool")
    assert call["id"] == result["tool_call_id"] == use["id"]
    assert json.loads(call["function"]["arguments"]) == use["input"]
    assert result["content"] == "spectra-tool-ok"
    # the message's own effort and the request's agree here (medium); after the tool result it
    # is the next turn's effort, and it is what the upstream is asked for
    assert chat["reasoning_effort"] == "medium"
    assert chat["stream"] is True
    assert chat["stream_options"] == {"include_usage": True}
    assert {t["function"]["name"] for t in chat["tools"]} == {t["name"] for t in body["tools"]}
    await chat_only.settle()
    (record,) = await chat_only.records()
    assert (record.protocol, record.status) == ("anthropic_messages", "ok")
    assert record.cost_micros == expected_cost(12, 11)


async def test_a_tool_removed_mid_conversation_is_not_offered_to_a_chat_account(
    client: httpx.AsyncClient, chat_only: World, fake: FakeUpstream
) -> None:
    """`mid-conversation-tool-changes`: a `tool_removal` in a system message after the tool
    result takes the tool away for the coming turn; with the message's `output_config` effort
    (`per-turn-control`) overriding the request's. Chat has neither, so the tool list and the
    effort of the whole request carry them."""
    headers, body = _recorded_turn()
    removal = {"type": "tool_removal", "tool": {"type": "tool_reference", "name": "Skill"}}
    body["messages"].append(
        {"role": "system", "content": [removal], "output_config": {"effort": "low"}}
    )
    assert any(t["name"] == "Skill" for t in body["tools"])
    fake.script(Reply(text="ok"))

    resp = await _replay(client, chat_only, body, headers)

    assert resp.status_code == 200, resp.text
    chat = fake.requests[-1].json()
    names = {t["function"]["name"] for t in chat["tools"]}
    assert "Skill" not in names
    assert "Bash" in names
    assert chat["reasoning_effort"] == "low"
    # a system message that only changed tools is not sent as an empty one
    assert [m["role"] for m in chat["messages"]] == [
        "system",
        "user",
        "system",
        "assistant",
        "tool",
    ]
