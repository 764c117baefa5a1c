"""The real Gemini CLI through Spectra with a member's key: a turn with a shell tool call, on a
pool whose account is a Gemini API one (the fake speaks Gemini's wire format and, like Gemini 3,
refuses a follow-up whose function call lost its thought signature) and on a pool of Anthropic
accounts only (translated there and back). Each turn: the tool runs, its result travels back
upstream, the final text is printed, and the member is charged exactly the usage the fake
reported at the served model's price, with the ledger still verifying."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.gemini import FakeGemini, thought_signature
from tests.fakes.upstream import FakeUpstream, Reply, ToolCall
from tests.gateway.world import OWNER, UPSTREAM_KEY, World, build_world, expected_cost, serve

from spectra.db.session import read_scope, session_scope
from spectra.kit.money import round_micros
from spectra.ledger import service as ledger_service
from spectra.runtime import Runtime
from spectra.usage import service as usage_service

from . import clients
from .conftest import TOOL_COMMAND

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("installed_clients")]

GEMINI = "gemini-2.5-flash"
CLAUDE = "claude-opus-4-8"
PROMPT = "run the test command"
FINAL_TEXT = "SPECTRA-FINAL"
TOOL_MARKER = "spectra-tool-ok"
CALL_TURN: dict[str, Any] = {"input_tokens": 1200, "output_tokens": 40, "cache_read_tokens": 300}
FINAL_TURN: dict[str, Any] = {"input_tokens": 1500, "output_tokens": 12, "cache_read_tokens": 900}
GEMINI_PRICE = {"input": "0.3", "output": "2.5", "cache_read": "0.075", "cache_write": "0"}
"""An override for `gemini/gemini-2.5-flash`, unlike the world's Claude price, so a charge at
the wrong price shows."""
SHELL = ToolCall(name="run_shell_command", arguments={"command": TOOL_COMMAND}, call_id="gcli01")


def _gemini_cost(turn: dict[str, Any]) -> int:
    total = (
        turn["input_tokens"] * Decimal(GEMINI_PRICE["input"])
        + turn["output_tokens"] * Decimal(GEMINI_PRICE["output"])
        + turn["cache_read_tokens"] * Decimal(GEMINI_PRICE["cache_read"])
    )
    return int(round_micros(total))


async def _run(app: object, world: World, model: str, workdir: Path) -> clients.ClientResult:
    async with serve(app) as base:
        result = await asyncio.to_thread(
            clients.run_gemini_cli, base, world.secret, PROMPT, model=model, workdir=workdir
        )
    assert result.returncode == 0, result.describe()
    assert result.final_text == FINAL_TEXT, result.describe()
    assert (workdir / "tool-proof.txt").read_text().strip() == TOOL_MARKER
    return result


async def _assert_charged(world: World, model: str, costs: list[int]) -> None:
    await world.settle()
    records = await world.records()
    assert [(r.protocol, r.status, r.model_served, r.client_family) for r in records] == [
        ("gemini_generate_content", "ok", model, "gemini_cli")
    ] * len(costs)
    assert [r.cost_micros for r in records] == costs
    assert await world.balance(await world.wallet_id()) == 10_000_000 - sum(costs)
    async with read_scope(world.runtime.db) as session:
        report = await ledger_service.verify(session, OWNER)
    assert report.ok, report.problems


async def test_gemini_cli_tool_turn_on_a_gemini_account(
    runtime: Runtime, app: object, tmp_path: Path
) -> None:
    async with FakeGemini(api_key=UPSTREAM_KEY) as fake:
        world = await build_world(runtime)
        await world.add_account("gemini", provider="gemini", base_url=fake.url, models=["gemini-*"])
        async with session_scope(runtime.db) as session:
            await usage_service.set_price(
                session,
                OWNER,
                model=f"gemini/{GEMINI}",
                input=GEMINI_PRICE["input"],
                output=GEMINI_PRICE["output"],
                cache_read=GEMINI_PRICE["cache_read"],
                cache_write=GEMINI_PRICE["cache_write"],
            )
        await world.recharge("10")
        fake.script.extend(
            [Reply(text="", tool_call=SHELL, **CALL_TURN), Reply(text=FINAL_TEXT, **FINAL_TURN)]
        )
        await _run(app, world, GEMINI, tmp_path)
        turns = [r for r in fake.requests if "GenerateContent" in r[0]]
        assert [(path, query) for path, query, _, _ in turns] == [
            (f"/v1beta/models/{GEMINI}:streamGenerateContent", "alt=sse")
        ] * 2
        assert all(headers["x-goog-api-key"] == UPSTREAM_KEY for _, _, headers, _ in turns)
        first, second = (body for _, _, _, body in turns)
        declared = [f["name"] for t in first["tools"] for f in t.get("functionDeclarations", [])]
        assert "run_shell_command" in declared
        # The model turn comes back with the call and the signature the fake gave it, the
        # tool's output beside it (the fake would have refused a lost signature with a 400).
        (model_turn,) = [c for c in second["contents"] if c["role"] == "model"]
        (call,) = [p for p in model_turn["parts"] if "functionCall" in p]
        assert call["thoughtSignature"] == thought_signature(SHELL.call_id)
        assert call["functionCall"]["name"] == "run_shell_command"
        responses = [
            p["functionResponse"]
            for c in second["contents"]
            for p in c["parts"]
            if "functionResponse" in p
        ]
        assert len(responses) == 1
        assert TOOL_MARKER in json.dumps(responses[0])
        await _assert_charged(world, GEMINI, [_gemini_cost(CALL_TURN), _gemini_cost(FINAL_TURN)])


async def test_gemini_cli_tool_turn_on_an_anthropic_only_pool(
    runtime: Runtime, app: object, tmp_path: Path
) -> None:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as fake:
        world = await build_world(runtime)
        await world.add_account("claude", provider="anthropic", base_url=fake.url, models=[CLAUDE])
        await world.recharge("10")
        usages = [dict(CALL_TURN, cache_write_tokens=50), dict(FINAL_TURN, cache_write_tokens=0)]
        fake.script(
            Reply(text="", tool_call=replace(SHELL, call_id="toolu_g1"), **usages[0]),
            Reply(text=FINAL_TEXT, **usages[1]),
        )
        await _run(app, world, CLAUDE, tmp_path)
        turns = [r for r in fake.requests if r.path == "/v1/messages"]
        assert len(turns) == 2, [r.path for r in fake.requests]
        first, second = turns[0].json(), turns[1].json()
        assert first["stream"] is True
        assert first["model"] == CLAUDE
        assert "run_shell_command" in [t["name"] for t in first["tools"]]
        results = [
            block
            for message in second["messages"]
            if isinstance(message.get("content"), list)
            for block in message["content"]
            if block.get("type") == "tool_result" and block.get("tool_use_id") == "toolu_g1"
        ]
        assert len(results) == 1, json.dumps(second["messages"])[:2000]
        assert TOOL_MARKER in json.dumps(results[0])
        assert all(r.header("x-api-key") == UPSTREAM_KEY for r in turns)
        costs = [
            expected_cost(
                u["input_tokens"],
                u["output_tokens"],
                u["cache_read_tokens"],
                u["cache_write_tokens"],
            )
            for u in usages
        ]
        await _assert_charged(world, CLAUDE, costs)
