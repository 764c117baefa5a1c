"""Request translation over whole bodies the pinned clients send today (Claude Code 2.1.332, Codex
0.171.0 on its full and "responses lite" wires, Qwen Code 0.24.4, Gemini CLI 0.61.0), recorded by
tests/e2e/record_clients.py with nothing trimmed but secrets: every tool reaches the other
protocol with its own schema, and what each client adds to the wire is carried or named."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from spectra.providers.translate import translate_request
from spectra.providers.types import WireProtocol

from .support import ANTHROPIC, CHAT, PATHS, RESPONSES, sdk_request, without_system_messages

GEMINI = WireProtocol.GEMINI

CURRENT = Path(__file__).parents[2] / "fixtures" / "client-recordings" / "current"
JsonDict = dict[str, Any]
ToolKey = tuple[str | None, str]
NO_PARAMETERS: JsonDict = {"type": "object", "properties": {}}
"""What an OpenAI function without `parameters` takes (Anthropic needs the schema spelt out)."""
HOSTED = frozenset({"web_search", "file_search", "local_shell", "image_generation", "mcp"})


@cache
def current() -> dict[str, tuple[WireProtocol, JsonDict, JsonDict]]:
    """`stem-n` -> (protocol, headers, body) of each request in the current recordings."""
    out = {}
    for path in sorted(CURRENT.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            gemini = record["path"].startswith("/v1beta/models/")
            out[f"{path.stem}-{record['n']}"] = (
                GEMINI if gemini else PATHS[record["path"]],
                record["headers"],
                record["body"],
            )
    return out


def _body(name: str) -> JsonDict:
    body: JsonDict = json.loads(json.dumps(current()[name][2]))
    return body


PAIRS = [
    (name, client, upstream)
    for name, (client, _, _) in current().items()
    for upstream in (ANTHROPIC, CHAT, RESPONSES)
    if upstream is not client
]
DIRECTIONS = [pytest.param(*pair, id=f"{pair[0]}-to-{pair[2].value}") for pair in PAIRS]


def _responses_tools(tools: list[JsonDict], namespace: str | None, out: dict[ToolKey, Any]) -> None:
    for tool in tools:
        kind = tool.get("type")
        if kind == "namespace":
            _responses_tools(tool["tools"], tool["name"], out)
        elif kind == "function":
            out[namespace, tool["name"]] = tool.get("parameters") or NO_PARAMETERS
        elif kind == "custom":
            out[namespace, tool["name"]] = "custom"
        else:
            assert kind in HOSTED, tool


def tools_of(protocol: WireProtocol, body: JsonDict) -> dict[ToolKey, Any]:
    """(namespace, name) -> parameter schema ("custom" for a free-text tool) of every tool the
    body offers, wherever the protocol puts it (Codex lite: an `additional_tools` input item)."""
    if protocol is ANTHROPIC:
        return {(None, t["name"]): t["input_schema"] for t in body.get("tools") or []}
    if protocol is GEMINI:
        return {
            (None, f["name"]): f.get("parametersJsonSchema") or f.get("parameters") or NO_PARAMETERS
            for t in body.get("tools") or []
            for f in t.get("functionDeclarations") or []
        }
    if protocol is CHAT:
        return {
            (None, t["function"]["name"]): t["function"].get("parameters") or NO_PARAMETERS
            for t in body.get("tools") or []
        }
    out: dict[ToolKey, Any] = {}
    _responses_tools(body.get("tools") or [], None, out)
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            _responses_tools(item["tools"], None, out)
    return out


def test_the_recordings_are_the_pinned_clients_on_their_current_wires() -> None:
    names = set(current())
    assert {f"{s}-{n}" for s in ("claude-code-tool", "qwen-code-tool") for n in (0, 1)} <= names
    lite_headers = current()["codex-exec-lite-tool-0"][1]
    assert lite_headers["x-openai-internal-codex-responses-lite"] == "true"
    assert lite_headers["user-agent"].startswith("codex_exec/0.171.0")
    assert current()["claude-code-tool-0"][1]["user-agent"].startswith("claude-cli/2.1.332")
    assert current()["qwen-code-tool-0"][1]["user-agent"].startswith("QwenCode/0.24.4")
    gemini = current()["gemini-cli-tool-0"][1]
    assert gemini["user-agent"].startswith("GeminiCLI-tui/0.61.0/")
    for _, headers, _ in current().values():
        for name in ("authorization", "x-api-key", "x-goog-api-key"):
            assert headers.get(name, "…").endswith("…"), "a credential was recorded whole"


@pytest.mark.parametrize(("name", "client", "upstream"), DIRECTIONS)
def test_current_request_translates_to_a_valid_sdk_request(
    name: str, client: WireProtocol, upstream: WireProtocol
) -> None:
    out = translate_request(_body(name), client=client, upstream=upstream).body
    expected = without_system_messages(out) if upstream is ANTHROPIC else out
    assert sdk_request(upstream, out) == expected


@pytest.mark.parametrize(("name", "client", "upstream"), DIRECTIONS)
def test_every_tool_arrives_with_its_own_schema(
    name: str, client: WireProtocol, upstream: WireProtocol
) -> None:
    body = _body(name)
    sent = tools_of(client, body)
    assert sent, "the recording offers no tools"
    out = translate_request(body, client=client, upstream=upstream)
    received: dict[ToolKey, Any] = {}
    for (_, flat), schema in tools_of(upstream, out.body).items():
        key = out.context.namespaces.get(flat, (None, flat))
        received[key] = "custom" if flat in out.context.custom_tools else schema
    if client is RESPONSES:  # Codex's functions namespace is its top level
        sent = {("functions" if ns is None else ns, n): s for (ns, n), s in sent.items()}
        received = {("functions" if ns is None else ns, n): s for (ns, n), s in received.items()}
    assert received == sent
    hosted = [t["type"] for t in body.get("tools") or [] if t.get("type") in HOSTED]
    for kind in hosted:
        assert f"hosted tool {kind!r} dropped" in out.context.degraded


def test_claude_code_system_message_reasoning_and_tool_result_reach_chat_and_responses() -> None:
    body = _body("claude-code-tool-1")
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "system", "assistant", "user"]
    note = body["messages"][1]["content"]
    (use,) = body["messages"][2]["content"]
    chat = translate_request(body, client=ANTHROPIC, upstream=CHAT)
    messages = chat.body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "system", "assistant", "tool"]
    assert messages[2]["content"] == note  # in place, not merged into the top system prompt
    assert messages[3]["tool_calls"][0]["id"] == messages[4]["tool_call_id"] == use["id"]
    assert json.loads(messages[3]["tool_calls"][0]["function"]["arguments"]) == use["input"]
    assert messages[4]["content"] == "spectra-tool-ok"
    assert body["output_config"] == {"effort": "medium"}
    assert body["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert chat.body["reasoning_effort"] == "medium"  # thinking adaptive + output_config.effort
    assert chat.body["max_completion_tokens"] == body["max_tokens"]
    assert "context_management has no equivalent and was dropped" in chat.context.degraded
    responses = translate_request(body, client=ANTHROPIC, upstream=RESPONSES).body
    items = responses["input"]
    assert [(i["type"], i.get("role")) for i in items] == [
        ("message", "user"),
        ("message", "developer"),
        ("function_call", None),
        ("function_call_output", None),
    ]
    assert items[1]["content"] == [{"type": "input_text", "text": note}]
    assert items[2]["call_id"] == items[3]["call_id"] == use["id"]
    assert items[3]["output"] == "spectra-tool-ok"
    # display "omitted": the caller is not shown thinking text, so no summaries are asked for.
    assert responses["reasoning"] == {"effort": "medium"}
    assert responses["instructions"].startswith("x-anthropic-billing-header")
    assert responses["user"] == chat.body["user"]  # metadata.user_id, hashed the same way


@pytest.mark.parametrize("stem", ["codex-exec-lite-tool", "codex-exec-builtin-tool"])
def test_codex_lite_turn_reaches_anthropic_with_its_tools_call_and_effort(stem: str) -> None:
    body = _body(f"{stem}-1")
    assert "tools" not in body
    out = translate_request(body, client=RESPONSES, upstream=ANTHROPIC)
    assert out.body["output_config"] == {"effort": "low"}  # reasoning / configuration_update
    assert out.body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert "exec" in out.context.custom_tools
    call = next(i for i in body["input"] if i.get("type") == "function_call")
    assistant, result = out.body["messages"][-2:]
    assert assistant["content"] == [
        {
            "type": "tool_use",
            "id": call["call_id"],
            "name": call["name"],
            "input": json.loads(call["arguments"]),
        }
    ]
    (block,) = result["content"]
    assert block["tool_use_id"] == call["call_id"]
    assert "spectra-tool-ok" in json.dumps(block["content"])
    developer = [
        part["text"]
        for i in body["input"]
        if i.get("type") == "message" and i.get("role") in ("developer", "system")
        for part in i["content"]
    ]
    assert [b["text"] for b in out.body["system"]] == developer
    # Thinking needs the signed thinking of the earlier tool-use turn, which OpenAI never gives.
    assert "thinking" not in out.body
    assert any(d.startswith("thinking off for this turn") for d in out.context.degraded)


def test_qwen_code_tool_turn_reaches_anthropic_with_system_and_tool_result() -> None:
    body = _body("qwen-code-tool-1")
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool"]
    out = translate_request(body, client=CHAT, upstream=ANTHROPIC).body
    assert [b["text"] for b in out["system"]] == [body["messages"][0]["content"]]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    (call,) = body["messages"][2]["tool_calls"]
    (use,) = out["messages"][1]["content"]
    assert (use["id"], use["name"]) == (call["id"], call["function"]["name"])
    assert use["input"] == json.loads(call["function"]["arguments"])
    (result,) = out["messages"][2]["content"]
    assert result["tool_use_id"] == call["id"]
    assert result["content"] == body["messages"][3]["content"]  # Qwen's text parts, as blocks
    assert out["max_tokens"] == body["max_tokens"]
    assert "stream_options" not in out


@pytest.mark.parametrize(
    ("name", "client", "upstream"),
    [pytest.param(n, c, u, id=f"{n}-via-{u.value}") for n, c, u in PAIRS if c is not RESPONSES],
)
def test_tools_and_tool_ids_survive_the_trip_there_and_back(
    name: str, client: WireProtocol, upstream: WireProtocol
) -> None:
    body = _body(name)
    there = translate_request(body, client=client, upstream=upstream).body
    back = translate_request(there, client=upstream, upstream=client).body
    assert tools_of(client, back) == tools_of(client, body)
    assert _call_ids(client, back) == _call_ids(client, body)


def _call_ids(protocol: WireProtocol, body: JsonDict) -> list[str]:
    if protocol is GEMINI:
        return [
            part[kind].get("id")
            for content in body["contents"]
            for part in content["parts"]
            for kind in ("functionCall", "functionResponse")
            if kind in part
        ]
    if protocol is ANTHROPIC:
        return [
            b.get("id") or b.get("tool_use_id")
            for m in body["messages"]
            if isinstance(m["content"], list)
            for b in m["content"]
            if b["type"] in ("tool_use", "tool_result")
        ]
    return [
        c["id"] if "function" in c else c["tool_call_id"]
        for m in body["messages"]
        for c in (m.get("tool_calls") or ([m] if m["role"] == "tool" else []))
    ]


def test_a_system_message_after_the_tool_result_stays_after_it() -> None:
    """Claude Code 2.1.33x may append its `role: "system"` note after the tool results (the
    issue's observation; in the recorded one-tool turn it still follows the prompt): the same
    body with the note moved there."""
    body = _body("claude-code-tool-1")
    note = body["messages"].pop(1)
    body["messages"].append(note)
    chat = translate_request(body, client=ANTHROPIC, upstream=CHAT).body["messages"]
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "tool", "system"]
    assert chat[-1]["content"] == note["content"]
    responses = translate_request(body, client=ANTHROPIC, upstream=RESPONSES).body["input"]
    assert [i.get("role") or i["type"] for i in responses] == [
        "user",
        "function_call",
        "function_call_output",
        "developer",
    ]


CLAUDE_CODE_FIELDS = ("context_management", "output_config", "thinking")


@pytest.mark.parametrize("n", [0, 1])
@pytest.mark.parametrize("upstream", [CHAT, RESPONSES], ids=lambda p: p.value)
def test_claude_code_2_1_33x_fields_are_carried_or_dropped_with_a_reason(
    n: int, upstream: WireProtocol
) -> None:
    """What Claude Code 2.1.332 adds to the wire, in each direction: `output_config.effort` is the
    reasoning effort; `thinking: adaptive` with `display: "omitted"` reasons without asking for
    summaries; `context_management` (clearing old thinking) has no OpenAI equivalent and is
    dropped with that reason; `defer_loading` tools are offered up front, said so."""
    body = _body(f"claude-code-tool-{n}")
    assert all(name in body for name in CLAUDE_CODE_FIELDS)
    assert body["context_management"] == {
        "edits": [{"type": "clear_thinking_20251015", "keep": "all"}]
    }
    out = translate_request(body, client=ANTHROPIC, upstream=upstream)
    assert not any(name in out.body for name in CLAUDE_CODE_FIELDS)
    if upstream is CHAT:
        assert out.body["reasoning_effort"] == "medium"
        assert (
            "reasoning summaries are not returned by Chat Completions" not in out.context.degraded
        )
    else:
        assert out.body["reasoning"] == {"effort": "medium"}
        assert out.body["include"] == ["reasoning.encrypted_content"]
    deferred = [t["name"] for t in body["tools"] if t.get("defer_loading")]
    assert deferred == ["DeferredToolPlaceholder"]
    assert set(out.context.degraded) >= {
        "context_management has no equivalent and was dropped",
        "tool 'DeferredToolPlaceholder': defer_loading dropped, offered up front",
    }
    # Back to Anthropic (what an OpenAI caller's request of the same turn becomes): the effort
    # and the hidden thinking come back; on the tool-result turn thinking is off, because the
    # earlier tool call carries no Anthropic thinking signature (said in `degraded`).
    back = translate_request(out.body, client=upstream, upstream=ANTHROPIC)
    assert back.body["output_config"] == body["output_config"]
    assert "context_management" not in back.body
    if n == 0 and upstream is RESPONSES:
        # reasoning without `summary` says "no thinking text": `display: "omitted"` round-trips
        assert (
            back.body["thinking"] == body["thinking"] == {"type": "adaptive", "display": "omitted"}
        )
    elif n == 0:
        # Chat has no way to say "thinking hidden", so it comes back as the default display.
        assert back.body["thinking"] == {"type": "adaptive"}
    else:
        assert "thinking" not in back.body
        assert any(d.startswith("thinking off for this turn") for d in back.context.degraded)


def test_claude_code_system_message_with_blocks_keeps_its_place_and_text() -> None:
    """2.1.332's first request sends its mid-conversation `role: "system"` message as text
    blocks (the second as a string): both reach OpenAI as a system/developer message in place."""
    body = _body("claude-code-tool-0")
    assert [m["role"] for m in body["messages"]] == ["user", "system"]
    blocks = body["messages"][1]["content"]
    text = "".join(b["text"] for b in blocks)
    chat = translate_request(body, client=ANTHROPIC, upstream=CHAT).body["messages"]
    assert [m["role"] for m in chat] == ["system", "user", "system"]
    assert chat[-1]["content"] == text
    responses = translate_request(body, client=ANTHROPIC, upstream=RESPONSES).body["input"]
    assert responses[-1]["role"] == "developer"
    assert "".join(p["text"] for p in responses[-1]["content"]) == text


def test_gemini_cli_tool_turn_reaches_anthropic_with_system_call_and_result() -> None:
    body = _body("gemini-cli-tool-1")
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    out = translate_request(body, client=GEMINI, upstream=ANTHROPIC).body
    system = out["system"] if isinstance(out["system"], str) else out["system"][0]["text"]
    assert system == body["systemInstruction"]["parts"][0]["text"]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    (call,) = [p for p in body["contents"][1]["parts"] if "functionCall" in p]
    assert call["thoughtSignature"]  # Gemini's own, meaningless to Claude: not sent there
    (use,) = out["messages"][1]["content"]
    assert (use["type"], use["id"], use["name"], use["input"]) == (
        "tool_use",
        call["functionCall"]["id"],
        "run_shell_command",
        call["functionCall"]["args"],
    )
    (result,) = out["messages"][2]["content"]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == call["functionCall"]["id"]
    assert "spectra-tool-ok" in json.dumps(result["content"])
    assert "thoughtSignature" not in json.dumps(out)


@pytest.mark.parametrize("upstream", [CHAT, RESPONSES], ids=lambda p: p.value)
def test_claude_code_tool_changes_and_turn_effort_carry_to_openai(upstream: WireProtocol) -> None:
    """`mid-conversation-tool-changes`: the last change of each tool wins (Skill removed then
    added back is offered; Write removed is not); `per-turn-control`: the effort of the system
    message after the last assistant turn is the request's, an earlier one is not."""
    body = _body("claude-code-tool-1")
    assert body["messages"][1]["output_config"] == {"effort": "medium"}  # before the assistant
    body["messages"][1]["output_config"] = {"effort": "max"}  # that turn is over: not used

    def change(kind: str, name: str) -> JsonDict:
        return {"type": kind, "tool": {"type": "tool_reference", "name": name}}

    body["messages"] += [
        {"role": "system", "content": [change("tool_removal", "Skill")]},
        {
            "role": "system",
            "content": [change("tool_removal", "Write"), change("tool_addition", "Skill")],
            "output_config": {"effort": "low"},
        },
    ]
    out = translate_request(body, client=ANTHROPIC, upstream=upstream)
    tools = out.body["tools"]
    names = {t.get("name") or t["function"]["name"] for t in tools}
    assert "Skill" in names
    assert "Write" not in names
    assert len(names) == len(body["tools"]) - 1
    effort = out.body["reasoning_effort"] if upstream is CHAT else out.body["reasoning"]["effort"]
    assert effort == "low"
    assert "tools removed mid-conversation not offered at all: Write" in out.context.degraded
    # two system messages that only changed tools are not sent as empty ones
    text = json.dumps(out.body)
    assert "tool_removal" not in text
    assert "tool_addition" not in text
