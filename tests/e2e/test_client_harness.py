"""Prove the harness: the real clients finish a two-turn tool loop against a scripted upstream.

Turn 1 answers with a call to the client's shell tool; turn 2 must carry the tool's output and is
answered with the final text. The gateway's own e2e tests reuse clients.py the same way, with
the gateway between the client and the upstream.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from . import clients
from ._mini_upstream import MiniUpstream, RecordedRequest

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("installed_clients")]

FINAL_TEXT = "PONG-FINAL"
TOOL_MARKER = "spectra-tool-ok"
CLAUDE_KEY = "sk-test-claude-harness-0123456789"
CODEX_KEY = "sk-test-codex-harness-0123456789"


def _anthropic_tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
    return [
        block
        for message in request.body["messages"]
        if isinstance(message.get("content"), list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


def _tool_result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    return json.dumps(content)


@pytest.mark.parametrize("auth_token", [False, True], ids=["x-api-key", "auth-token"])
async def test_claude_code_completes_a_bash_tool_turn(
    mini_upstream: MiniUpstream, tmp_path: Path, auth_token: bool
) -> None:
    result = await asyncio.to_thread(
        clients.run_claude_code,
        mini_upstream.base_url,
        CLAUDE_KEY,
        "run the test command",
        model="claude-sonnet-4-5" if auth_token else None,
        workdir=tmp_path,
        timeout=60,
        auth_token=auth_token,
    )

    assert result.returncode == 0, result.describe()
    assert result.final_text == FINAL_TEXT, result.describe()
    assert FINAL_TEXT in result.stdout
    assert result.events[0]["permission_denials"] == [], result.describe()
    assert (tmp_path / "tool-proof.txt").read_text().strip() == TOOL_MARKER

    turns = mini_upstream.model_requests("/v1/messages")
    assert len(turns) == 2, [(r.method, r.path) for r in mini_upstream.requests]
    first, second = turns
    assert all(r.query == "beta=true" and r.body["stream"] is True for r in turns)
    assert not _anthropic_tool_results(first)
    results = _anthropic_tool_results(second)
    assert len(results) == 1
    assert results[0].get("is_error") is not True, results
    assert TOOL_MARKER in _tool_result_text(results[0])
    if auth_token:
        assert all(r.header("authorization") == f"Bearer {CLAUDE_KEY}" for r in turns)
        assert all(r.header("x-api-key") is None for r in turns)
        assert all(r.body["model"] == "claude-sonnet-4-5" for r in turns)
    else:
        assert all(r.header("x-api-key") == CLAUDE_KEY for r in turns)
        assert all(r.header("authorization") is None for r in turns)
    assert all(r.header("anthropic-version") == "2023-06-01" for r in turns)
    others = [r for r in mini_upstream.requests if r not in turns]
    assert all(r.method == "HEAD" and r.path == "/" for r in others), others


async def test_codex_completes_a_shell_tool_turn(
    mini_upstream: MiniUpstream, tmp_path: Path
) -> None:
    result = await asyncio.to_thread(
        clients.run_codex,
        mini_upstream.base_url,
        CODEX_KEY,
        "run the test command",
        model="gpt-5-codex",
        workdir=tmp_path,
        timeout=60,
    )

    assert result.returncode == 0, result.describe()
    assert result.final_text is not None
    assert result.final_text.strip() == FINAL_TEXT, result.describe()
    assert FINAL_TEXT in result.stdout
    assert (tmp_path / "tool-proof.txt").read_text().strip() == TOOL_MARKER

    assert [(r.method, r.path) for r in mini_upstream.requests] == [("POST", "/v1/responses")] * 2
    first, second = mini_upstream.requests
    assert all(r.body["stream"] is True and r.body["store"] is False for r in (first, second))
    assert all(r.header("authorization") == f"Bearer {CODEX_KEY}" for r in (first, second))
    assert all(r.body["model"] == "gpt-5-codex" for r in (first, second))
    assert not [i for i in first.body["input"] if i.get("type") == "function_call_output"]
    calls = [i for i in second.body["input"] if i.get("type") == "function_call"]
    outputs = [i for i in second.body["input"] if i.get("type") == "function_call_output"]
    assert [c["name"] for c in calls] == ["exec_command"]
    assert len(outputs) == 1
    assert outputs[0]["call_id"] == calls[0]["call_id"]
    assert TOOL_MARKER in outputs[0]["output"]
    assert "Process exited with code 0" in outputs[0]["output"]


async def test_claude_code_without_tools_answers_in_one_request(
    mini_upstream: MiniUpstream, tmp_path: Path
) -> None:
    mini_upstream.tool_command = None

    result = await asyncio.to_thread(
        clients.run_claude_code,
        mini_upstream.base_url,
        CLAUDE_KEY,
        "say pong",
        workdir=tmp_path,
        timeout=60,
    )

    assert result.returncode == 0, result.describe()
    assert result.final_text == FINAL_TEXT
    assert len(mini_upstream.model_requests("/v1/messages")) == 1


async def test_codex_without_tools_answers_in_one_request(
    mini_upstream: MiniUpstream, tmp_path: Path
) -> None:
    mini_upstream.tool_command = None

    result = await asyncio.to_thread(
        clients.run_codex,
        mini_upstream.base_url + "/v1",
        CODEX_KEY,
        "say pong",
        model="gpt-5-codex",
        workdir=tmp_path,
        timeout=60,
    )

    assert result.returncode == 0, result.describe()
    assert result.final_text is not None
    assert result.final_text.strip() == FINAL_TEXT
    assert len(mini_upstream.model_requests("/v1/responses")) == 1


def test_a_hung_client_is_killed_at_the_timeout(tmp_path: Path) -> None:
    # The kernel completes the handshake for a listening socket nobody accepts from, so the
    # client waits forever for a response; the harness must kill it and say so.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        with pytest.raises(clients.ClientTimeoutError, match="timed out") as caught:
            clients.run_claude_code(
                f"http://127.0.0.1:{port}", CLAUDE_KEY, "say pong", workdir=tmp_path, timeout=3
            )
    assert 3 <= caught.value.result.duration < 10
