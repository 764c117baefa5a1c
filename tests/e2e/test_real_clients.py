"""The real Claude Code and Codex CLI through Spectra with a member's key: a tool-call turn,
the fake upstream's final text printed, the tool result carried by the second request, and the
member charged exactly the usage the fake reported (checked on the ledger)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply, ToolCall
from tests.gateway.world import UPSTREAM_KEY, World, build_world, expected_cost, serve

from spectra.runtime import Runtime

from . import clients
from .conftest import TOOL_COMMAND

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("installed_clients")]

FINAL_TEXT = "SPECTRA-FINAL"
TOOL_MARKER = "spectra-tool-ok"
TURN1: dict[str, Any] = {
    "input_tokens": 1200,
    "output_tokens": 40,
    "cache_read_tokens": 300,
    "cache_write_tokens": 50,
}
TURN2: dict[str, Any] = {
    "input_tokens": 1500,
    "output_tokens": 12,
    "cache_read_tokens": 900,
    "cache_write_tokens": 0,
}


def _expected() -> int:
    return sum(
        expected_cost(
            t["input_tokens"], t["output_tokens"], t["cache_read_tokens"], t["cache_write_tokens"]
        )
        for t in (TURN1, TURN2)
    )


async def _world(runtime: Runtime, fake: FakeUpstream, provider: str, models: list[str]) -> World:
    world = await build_world(runtime)
    await world.add_account("acct", provider=provider, base_url=fake.url, models=models)
    await world.recharge("10")
    return world


def _generation(fake: FakeUpstream, path: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path == path]


async def test_claude_code_tool_turn_through_spectra(
    runtime: Runtime, app: object, tmp_path: Path
) -> None:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as fake:
        world = await _world(runtime, fake, "anthropic", ["claude-*"])
        fake.script(
            Reply(
                text="",
                tool_call=ToolCall(
                    name="Bash",
                    arguments={"command": TOOL_COMMAND, "description": "run the test command"},
                ),
                cache_read_tokens=TURN1["cache_read_tokens"],
                cache_write_tokens=TURN1["cache_write_tokens"],
                input_tokens=TURN1["input_tokens"],
                output_tokens=TURN1["output_tokens"],
            ),
            Reply(text=FINAL_TEXT, **TURN2),
        )
        async with serve(app) as base:
            result = await asyncio.to_thread(
                clients.run_claude_code,
                base,
                world.secret,
                "run the test command",
                workdir=tmp_path,
                timeout=90,
            )
        assert result.returncode == 0, result.describe()
        assert result.final_text == FINAL_TEXT, result.describe()
        turns = _generation(fake, "/v1/messages")
        assert len(turns) == 2
        results = [
            block
            for message in turns[1].json()["messages"]
            if isinstance(message.get("content"), list)
            for block in message["content"]
            if block.get("type") == "tool_result"
        ]
        assert results, "the second request carried no tool_result"
        assert TOOL_MARKER in json.dumps(results[0].get("content"))
        assert all(r.header("x-api-key") == UPSTREAM_KEY for r in turns)
        await world.settle()
        records = await world.records()
        assert [r.client_family for r in records] == ["claude_code", "claude_code"]
        assert sum(r.cost_micros for r in records) == _expected()
        assert await world.balance(await world.wallet_id()) == 10_000_000 - _expected()


async def test_codex_tool_turn_through_spectra(
    runtime: Runtime, app: object, tmp_path: Path
) -> None:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as fake:
        world = await _world(runtime, fake, "openai", ["gpt-*"])
        reply1: dict[str, Any] = dict(TURN1, cache_write_tokens=0)
        reply2: dict[str, Any] = dict(TURN2)
        fake.script(
            Reply(
                text="",
                tool_call=ToolCall(
                    name="exec_command", arguments={"cmd": TOOL_COMMAND}, call_id="call_fake01"
                ),
                **reply1,
            ),
            Reply(text=FINAL_TEXT, **reply2),
        )
        async with serve(app) as base:
            result = await asyncio.to_thread(
                clients.run_codex,
                base,
                world.secret,
                "run the test command",
                model="gpt-5-codex",
                workdir=tmp_path,
                timeout=90,
            )
        assert result.returncode == 0, result.describe()
        assert result.final_text == FINAL_TEXT, result.describe()
        turns = _generation(fake, "/v1/responses")
        assert len(turns) == 2
        outputs = [
            item
            for item in turns[1].json()["input"]
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        ]
        assert outputs
        assert TOOL_MARKER in json.dumps(outputs[0])
        await world.settle()
        records = await world.records()
        assert [r.client_family for r in records] == ["codex_cli", "codex_cli"]
        expected = sum(
            expected_cost(t["input_tokens"], t["output_tokens"], t["cache_read_tokens"], 0)
            for t in (reply1, reply2)
        )
        assert sum(r.cost_micros for r in records) == expected
        assert await world.balance(await world.wallet_id()) == 10_000_000 - expected
