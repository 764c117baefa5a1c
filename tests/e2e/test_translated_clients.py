"""Real clients across protocols: each pool has ONLY accounts of another protocol than the client
speaks, so every turn is translated there and back (providers/translate, gateway/translation).

Claude Code on a Chat Completions pool and on a Responses pool, Codex CLI and Qwen Code on an
Anthropic pool, the official `openai` SDK on an Anthropic pool and the `anthropic` SDK on a Chat
pool, each through a tool loop: the tool runs, its result travels back upstream under the id the
upstream gave the call, and the member is charged exactly the usage the fake reported at the
served model's price, with the ledger still verifying.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply, ToolCall
from tests.gateway.test_translated import CLAUDE_TOOLS as ANTHROPIC_TOOLS
from tests.gateway.test_translated import TOOLS as OPENAI_TOOLS
from tests.gateway.world import (
    CLAUDE_CODE_MODEL,
    OWNER,
    PRICES,
    UPSTREAM_KEY,
    World,
    build_world,
    expected_cost,
    serve,
)

from spectra.db.session import read_scope, session_scope
from spectra.ledger import service as ledger_service
from spectra.runtime import Runtime
from spectra.usage import service as usage_service

from . import clients
from .conftest import TOOL_COMMAND

pytestmark = [pytest.mark.e2e]

CLAUDE = CLAUDE_CODE_MODEL  # what Claude Code asks for by default
PROMPT = "run the test command"
FINAL_TEXT = "SPECTRA-FINAL"
TOOL_MARKER = "spectra-tool-ok"
PATHS = {
    "anthropic": "/v1/messages",
    "openai_compatible": "/v1/chat/completions",
    "openai": "/v1/responses",
}
CALL_TURN: dict[str, Any] = {"input_tokens": 1200, "output_tokens": 40, "cache_read_tokens": 300}
FINAL_TURN: dict[str, Any] = {"input_tokens": 1500, "output_tokens": 12, "cache_read_tokens": 900}


def _usage(provider: str, turn: dict[str, Any], cache_write: int) -> dict[str, Any]:
    """The usage the fake reports: OpenAI protocols have no cache-write count."""
    return dict(turn, cache_write_tokens=cache_write if provider == "anthropic" else 0)


def _cost(usages: list[dict[str, Any]]) -> int:
    return sum(
        expected_cost(
            u["input_tokens"], u["output_tokens"], u["cache_read_tokens"], u["cache_write_tokens"]
        )
        for u in usages
    )


def _script_tool_loop(fake: FakeUpstream, provider: str, call: ToolCall) -> list[dict[str, Any]]:
    """A tool call, then the final text; returns the two usages the fake will report."""
    usages = [_usage(provider, CALL_TURN, 50), _usage(provider, FINAL_TURN, 0)]
    fake.script(Reply(text="", tool_call=call, **usages[0]), Reply(text=FINAL_TEXT, **usages[1]))
    return usages


async def _pool(
    runtime: Runtime, fake: FakeUpstream, provider: str, aliases: dict[str, str] | None = None
) -> World:
    """A workspace whose only account is `provider`'s, serving CLAUDE (and `aliases` of it)."""
    world = await build_world(runtime)
    await world.add_account(
        "only", provider=provider, base_url=fake.url, models=[CLAUDE], aliases=aliases or {}
    )
    await world.recharge("10")
    return world


async def _price(world: World, model: str) -> None:
    """Price `model` like the served one (a charge is at the asked model's price today)."""
    async with session_scope(world.runtime.db) as session:
        await usage_service.set_price(
            session,
            OWNER,
            model=model,
            input=PRICES["input"],
            output=PRICES["output"],
            cache_read=PRICES["cache_read"],
            cache_write=PRICES["cache_write"],
        )
    await world.sync()


def _turns(fake: FakeUpstream, provider: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path == PATHS[provider]]


def _tool_result_sent(provider: str, body: dict[str, Any], call_id: str) -> str:
    """The tool output a follow-up request carries for `call_id`, in the upstream's protocol."""
    if provider == "anthropic":
        found = [
            block
            for message in body["messages"]
            if isinstance(message.get("content"), list)
            for block in message["content"]
            if block.get("type") == "tool_result" and block.get("tool_use_id") == call_id
        ]
    elif provider == "openai_compatible":
        found = [
            m for m in body["messages"] if m["role"] == "tool" and m.get("tool_call_id") == call_id
        ]
        calls = [
            c["id"]
            for m in body["messages"]
            if m["role"] == "assistant"
            for c in m.get("tool_calls") or []
        ]
        assert calls == [call_id], body["messages"]
    else:
        found = [
            item
            for item in body["input"]
            if item.get("type") == "function_call_output" and item.get("call_id") == call_id
        ]
        calls = [i["call_id"] for i in body["input"] if i.get("type") == "function_call"]
        assert calls == [call_id], body["input"]
    assert len(found) == 1, f"no tool result for {call_id} in {json.dumps(body)[:2000]}"
    return json.dumps(found[0])


async def _assert_charged(world: World, usages: list[dict[str, Any]], protocol: str) -> None:
    await world.settle()
    records = await world.records()
    assert [(r.protocol, r.status, r.model_served) for r in records] == [
        (protocol, "ok", CLAUDE)
    ] * len(usages)
    assert sum(r.cost_micros for r in records) == _cost(usages)
    assert await world.balance(await world.wallet_id()) == 10_000_000 - _cost(usages)
    async with read_scope(world.runtime.db) as session:
        report = await ledger_service.verify(session, OWNER)
    assert report.ok, report.problems


async def _tool_turn(
    app: object,
    fake: FakeUpstream,
    provider: str,
    workdir: Path,
    run: Callable[[str], clients.ClientResult],
) -> tuple[clients.ClientResult, list[RecordedRequest]]:
    """Serve Spectra, run the client against it (`run(base_url)`), check the turn completed
    with the tool run, and return the result and the two upstream requests."""
    async with serve(app) as base:
        result = await asyncio.to_thread(run, base)
    assert result.returncode == 0, result.describe()
    assert result.final_text == FINAL_TEXT, result.describe()
    assert (workdir / "tool-proof.txt").read_text().strip() == TOOL_MARKER
    turns = _turns(fake, provider)
    assert len(turns) == 2, [r.path for r in fake.requests]
    return result, turns


@pytest.mark.usefixtures("installed_clients")
@pytest.mark.parametrize("provider", ["openai_compatible", "openai"])
async def test_claude_code_tool_turn_on_an_openai_only_pool(
    runtime: Runtime, app: object, tmp_path: Path, provider: str
) -> None:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as fake:
        world = await _pool(runtime, fake, provider)
        call = ToolCall(
            name="Bash",
            arguments={"command": TOOL_COMMAND, "description": "run the test command"},
            call_id="call_cc01",
        )
        usages = _script_tool_loop(fake, provider, call)
        result, turns = await _tool_turn(
            app,
            fake,
            provider,
            tmp_path,
            lambda base: clients.run_claude_code(
                base, world.secret, PROMPT, workdir=tmp_path, timeout=90
            ),
        )
        assert result.events[0]["permission_denials"] == [], result.describe()
        first = turns[0].json()
        assert first["stream"] is True
        assert first["model"] == CLAUDE
        tools = first["tools"]
        names = [t["function"]["name"] if "function" in t else t.get("name") for t in tools]
        assert "Bash" in names
        # What 2.1.33x adds: `output_config.effort` + adaptive thinking become the reasoning
        # effort (no summaries: it sends `display: "omitted"`); `context_management` and
        # `thinking` themselves have no OpenAI field and are not sent.
        assert not {"context_management", "output_config", "thinking"} & set(first)
        if provider == "openai":
            assert first["reasoning"] == {"effort": "medium"}
        else:
            assert first["reasoning_effort"] == "medium"
        assert TOOL_MARKER in _tool_result_sent(provider, turns[1].json(), "call_cc01")
        assert all(r.header("authorization") == f"Bearer {UPSTREAM_KEY}" for r in turns)
        await _assert_charged(world, usages, "anthropic_messages")


CODEX_LITE = "gpt-6.2-sol"
"""Codex 0.171's default model: its bundled metadata puts Codex on the "responses lite" wire (no
top-level `tools`; an `additional_tools` developer item, `x-openai-internal-codex-responses-lite`)."""


@pytest.mark.usefixtures("installed_clients")
@pytest.mark.parametrize("model", [CLAUDE, CODEX_LITE])
async def test_codex_tool_turn_on_an_anthropic_only_pool(
    runtime: Runtime, app: object, tmp_path: Path, model: str
) -> None:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as fake:
        world = await _pool(runtime, fake, "anthropic", aliases={CODEX_LITE: CLAUDE})
        await _price(world, CODEX_LITE)
        if model == CODEX_LITE:  # the shell is reached from the custom `exec` tool's JavaScript
            script = f"text(await tools.exec_command({{cmd: {json.dumps(TOOL_COMMAND)}}}))"
            name, arguments = "exec", {"input": script}
        else:
            name, arguments = "exec_command", {"cmd": TOOL_COMMAND}
        call = ToolCall(name=name, arguments=arguments, call_id="toolu_cx01")
        usages = _script_tool_loop(fake, "anthropic", call)
        _, turns = await _tool_turn(
            app,
            fake,
            "anthropic",
            tmp_path,
            lambda base: clients.run_codex(
                base, world.secret, PROMPT, model=model, workdir=tmp_path, timeout=90
            ),
        )
        first = turns[0].json()
        assert first["model"] == CLAUDE
        tools = {t["name"]: t for t in first["tools"]}
        assert set(arguments) <= set(tools[name]["input_schema"]["properties"])
        assert TOOL_MARKER in _tool_result_sent("anthropic", turns[1].json(), "toolu_cx01")
        assert all(r.header("x-api-key") == UPSTREAM_KEY for r in turns)
        assert all(r.header("x-openai-internal-codex-responses-lite") is None for r in turns)
        await _assert_charged(world, usages, "openai_responses")


@pytest.mark.usefixtures("installed_clients")
async def test_qwen_code_tool_turn_on_an_anthropic_only_pool(
    runtime: Runtime, app: object, tmp_path: Path
) -> None:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as fake:
        world = await _pool(runtime, fake, "anthropic")
        call = ToolCall(
            name="run_shell_command", arguments={"command": TOOL_COMMAND}, call_id="toolu_qw01"
        )
        usages = _script_tool_loop(fake, "anthropic", call)
        _, turns = await _tool_turn(
            app,
            fake,
            "anthropic",
            tmp_path,
            lambda base: clients.run_qwen_code(
                base, world.secret, PROMPT, model=CLAUDE, workdir=tmp_path, timeout=90
            ),
        )
        first = turns[0].json()
        assert first["stream"] is True
        assert "run_shell_command" in [t["name"] for t in first["tools"]]
        assert isinstance(first["system"], list | str)  # Qwen's system message moved to `system`
        assert TOOL_MARKER in _tool_result_sent("anthropic", turns[1].json(), "toolu_qw01")
        await _assert_charged(world, usages, "openai_chat")


async def test_openai_sdk_chat_tool_loop_on_an_anthropic_only_pool(
    runtime: Runtime, app: object
) -> None:
    """Non-streamed call, its result sent back and answered streamed; then a streamed call."""
    async with FakeUpstream(api_key=UPSTREAM_KEY) as fake:
        world = await _pool(runtime, fake, "anthropic")
        usages = _script_tool_loop(
            fake,
            "anthropic",
            ToolCall(name="Bash", arguments={"command": "ls"}, call_id="toolu_a1"),
        )
        third = _usage("anthropic", CALL_TURN, 7)
        fake.script(
            Reply(
                text="",
                tool_call=ToolCall(name="Bash", arguments={"command": "pwd"}, call_id="toolu_a2"),
                pieces=2,
                **third,
            )
        )
        async with serve(app) as base:
            client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=world.secret, max_retries=0)
            try:
                messages: list[Any] = [{"role": "user", "content": "list the files"}]
                chat = await client.chat.completions.create(
                    model=CLAUDE, messages=messages, tools=OPENAI_TOOLS
                )
                assert chat.choices[0].finish_reason == "tool_calls"
                (call,) = chat.choices[0].message.tool_calls or []
                assert call.id == "toolu_a1"
                assert json.loads(call.function.arguments) == {"command": "ls"}  # type: ignore[union-attr]
                assert chat.usage is not None
                assert chat.usage.prompt_tokens == CALL_TURN["input_tokens"] + 300 + 50
                messages += [
                    chat.choices[0].message.model_dump(exclude_none=True),
                    {"role": "tool", "tool_call_id": call.id, "content": TOOL_MARKER},
                ]
                stream = await client.chat.completions.create(
                    model=CLAUDE,
                    messages=messages,
                    tools=OPENAI_TOOLS,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                chunks = [c async for c in stream]
                text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                assert text == FINAL_TEXT
                assert chunks[-1].usage is not None
                assert chunks[-1].usage.completion_tokens == FINAL_TURN["output_tokens"]
                stream = await client.chat.completions.create(
                    model=CLAUDE,
                    messages=[{"role": "user", "content": "where am I"}],
                    tools=OPENAI_TOOLS,
                    stream=True,
                )
                deltas = [
                    tool
                    async for c in stream
                    if c.choices
                    for tool in c.choices[0].delta.tool_calls or []
                ]
                assert deltas[0].id == "toolu_a2"
                arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
                assert json.loads(arguments) == {"command": "pwd"}
            finally:
                await client.close()
        turns = _turns(fake, "anthropic")
        assert len(turns) == 3
        assert [t["name"] for t in turns[0].json()["tools"]] == ["Bash"]
        assert TOOL_MARKER in _tool_result_sent("anthropic", turns[1].json(), "toolu_a1")
        await _assert_charged(world, [*usages, third], "openai_chat")


async def test_anthropic_sdk_tool_loop_on_a_chat_only_pool(runtime: Runtime, app: object) -> None:
    """Non-streamed tool_use, its tool_result sent back and answered streamed; then a streamed
    tool_use accumulated by the SDK's own stream helper."""
    async with FakeUpstream(api_key=UPSTREAM_KEY) as fake:
        world = await _pool(runtime, fake, "openai_compatible")
        usages = _script_tool_loop(
            fake,
            "openai_compatible",
            ToolCall(name="Bash", arguments={"command": "ls"}, call_id="call_b1"),
        )
        third = _usage("openai_compatible", CALL_TURN, 0)
        fake.script(
            Reply(
                text="let me look",
                tool_call=ToolCall(name="Bash", arguments={"command": "pwd"}, call_id="call_b2"),
                **third,
            )
        )
        async with serve(app) as base:
            client = anthropic.AsyncAnthropic(base_url=base, api_key=world.secret, max_retries=0)
            try:
                messages: list[Any] = [{"role": "user", "content": "list the files"}]
                message = await client.messages.create(
                    model=CLAUDE, max_tokens=256, tools=ANTHROPIC_TOOLS, messages=messages
                )
                assert message.stop_reason == "tool_use"
                (block,) = [b for b in message.content if b.type == "tool_use"]
                assert (block.id, block.name, block.input) == ("call_b1", "Bash", {"command": "ls"})
                assert message.usage.input_tokens == CALL_TURN["input_tokens"]
                assert message.usage.cache_read_input_tokens == CALL_TURN["cache_read_tokens"]
                messages += [
                    {"role": "assistant", "content": [b.model_dump() for b in message.content]},
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": block.id, "content": TOOL_MARKER}
                        ],
                    },
                ]
                async with client.messages.stream(
                    model=CLAUDE, max_tokens=256, tools=ANTHROPIC_TOOLS, messages=messages
                ) as stream:
                    final = await stream.get_final_message()
                assert [b.type for b in final.content] == ["text"]
                assert final.content[0].text == FINAL_TEXT  # type: ignore[union-attr]
                assert final.stop_reason == "end_turn"
                assert final.usage.output_tokens == FINAL_TURN["output_tokens"]
                async with client.messages.stream(
                    model=CLAUDE,
                    max_tokens=256,
                    tools=ANTHROPIC_TOOLS,
                    messages=[{"role": "user", "content": "where am I"}],
                ) as stream:
                    final = await stream.get_final_message()
                assert final.stop_reason == "tool_use"
                assert [b.type for b in final.content] == ["text", "tool_use"]
                call = final.content[1]
                assert (call.id, call.input) == ("call_b2", {"command": "pwd"})  # type: ignore[union-attr]
            finally:
                await client.close()
        turns = _turns(fake, "openai_compatible")
        assert len(turns) == 3
        assert [t["function"]["name"] for t in turns[0].json()["tools"]] == ["Bash"]
        assert TOOL_MARKER in _tool_result_sent("openai_compatible", turns[1].json(), "call_b1")
        assert turns[1].json()["stream_options"] == {"include_usage": True}
        await _assert_charged(world, [*usages, third], "anthropic_messages")
