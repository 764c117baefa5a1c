"""Request translation over the requests real clients sent (Claude Code, Codex CLI, the
official SDKs), checked against the target SDK's request types and on what must carry over."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spectra.providers.translate import TranslationRefusedError, translate_request
from spectra.providers.types import WireProtocol

from .support import (
    ANTHROPIC,
    CHAT,
    RESPONSES,
    recorded_requests,
    sdk_request,
    without_system_messages,
)

DIRECTIONS = [
    pytest.param(name, client, upstream, body, id=f"{name}-to-{upstream.value}")
    for name, client, body in recorded_requests()
    for upstream in (ANTHROPIC, CHAT, RESPONSES)
    if upstream is not client
]


def _body(name: str) -> dict[str, Any]:
    return next(body for n, _, body in recorded_requests() if n == name)


@pytest.mark.parametrize(("name", "client", "upstream", "body"), DIRECTIONS)
def test_recorded_request_translates_to_a_valid_sdk_request(
    name: str, client: WireProtocol, upstream: WireProtocol, body: dict[str, Any]
) -> None:
    out = translate_request(body, client=client, upstream=upstream).body
    expected = without_system_messages(out) if upstream is ANTHROPIC else out
    assert sdk_request(upstream, out) == expected


def test_sdk_check_catches_a_field_the_sdk_does_not_know() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi", "bogus": 1}]}
    assert sdk_request(CHAT, body) != body


def test_claude_code_tool_turn_to_chat_keeps_ids_system_and_reasoning() -> None:
    body = _body("claude-code-tool-2")
    out = translate_request(body, client=ANTHROPIC, upstream=CHAT)
    messages = out.body["messages"]
    assert messages[0]["role"] == "system"
    assert messages[0]["content"].startswith("x-anthropic-billing-header")
    call = next(m for m in messages if m.get("tool_calls"))["tool_calls"][0]
    result = next(m for m in messages if m["role"] == "tool")
    assert call["id"] == result["tool_call_id"] == "toolu_3bcf04ed2e77483fa56f6301"
    assert json.loads(call["function"]["arguments"])["command"] == "echo pong-from-tool"
    assert result["content"] == "pong-from-tool"
    # Claude Code's mid-conversation system message stays a system message in place
    assert [m["role"] for m in messages].count("system") == 2
    assert out.body["reasoning_effort"] == "high"  # output_config.effort
    assert out.body["max_completion_tokens"] == 64000
    assert out.body["prompt_cache_key"].startswith("spectra-")  # from cache_control
    assert len(out.body["user"]) == 64  # Claude Code's JSON user id, hashed
    assert out.body["stream_options"] == {"include_usage": True}
    assert "context_management has no equivalent and was dropped" in out.context.degraded


def test_claude_code_tool_turn_to_responses_pairs_call_and_output() -> None:
    out = translate_request(_body("claude-code-tool-2"), client=ANTHROPIC, upstream=RESPONSES).body
    call = next(i for i in out["input"] if i.get("type") == "function_call")
    output = next(i for i in out["input"] if i.get("type") == "function_call_output")
    assert call["call_id"] == output["call_id"]
    assert output["output"] == "pong-from-tool"
    assert out["instructions"].startswith("x-anthropic-billing-header")
    assert out["reasoning"] == {"effort": "high", "summary": "auto"}
    assert out["include"] == ["reasoning.encrypted_content"]
    assert out["store"] is False
    assert out["max_output_tokens"] == 64000


def test_codex_lite_additional_tools_flatten_for_anthropic() -> None:
    out = translate_request(_body("codex-exec-openai-cfg-7"), client=RESPONSES, upstream=ANTHROPIC)
    names = [t["name"] for t in out.body["tools"]]
    assert "exec" in names  # functions.exec keeps its bare name
    assert "clock__clock_status" in names
    exec_tool = next(t for t in out.body["tools"] if t["name"] == "exec")
    assert exec_tool["input_schema"]["required"] == ["input"]  # custom tool's free text
    assert out.context.custom_tools == frozenset({"exec"})
    assert out.context.namespaces["exec"] == ("functions", "exec")
    assert out.context.namespaces["clock__clock_status"] == ("clock", "clock_status")
    # it asks for reasoning without summaries: it is shown no thinking text on Anthropic either
    assert out.body["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert out.body["output_config"] == {"effort": "low"}  # from its configuration_update item
    assert out.body["system"][0]["text"].startswith("You are Codex")


def test_codex_tool_turn_to_anthropic_pairs_call_and_result() -> None:
    out = translate_request(_body("codex-exec-tool-1"), client=RESPONSES, upstream=ANTHROPIC).body
    assistant = next(m for m in out["messages"] if m["role"] == "assistant")
    use = assistant["content"][0]
    result = out["messages"][out["messages"].index(assistant) + 1]["content"][0]
    assert use["type"] == "tool_use"
    assert use["input"] == {"cmd": "echo pong-from-tool"}
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == use["id"] == "call_fd63d83ec21d452487cae53e"
    # prompt_cache_key becomes top-level cache_control: the whole prefix is cached
    assert out["cache_control"] == {"type": "ephemeral"}


def test_codex_custom_tool_call_round_trips_through_anthropic_input() -> None:
    body = _body("codex-exec-openai-cfg-7")
    body["input"] += [
        {
            "type": "custom_tool_call",
            "call_id": "call_1",
            "name": "exec",
            "input": "tools.x()",
            "namespace": "functions",
        },
        {"type": "custom_tool_call_output", "call_id": "call_1", "output": "ok"},
    ]
    out = translate_request(body, client=RESPONSES, upstream=ANTHROPIC).body
    assistant = out["messages"][-2]
    assert assistant["content"][-1] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "exec",
        "input": {"input": "tools.x()"},
    }
    back = translate_request(out, client=ANTHROPIC, upstream=CHAT).body
    assert json.loads(back["messages"][-2]["tool_calls"][0]["function"]["arguments"]) == {
        "input": "tools.x()"
    }


def test_images_base64_and_url_map_both_ways() -> None:
    body = {
        "model": "gpt-x",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    },
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            }
        ],
    }
    anthropic = translate_request(body, client=CHAT, upstream=ANTHROPIC).body
    sources = [b["source"] for b in anthropic["messages"][0]["content"] if b["type"] == "image"]
    assert sources == [
        {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        {"type": "url", "url": "https://example.com/a.png"},
    ]
    back = translate_request(anthropic, client=ANTHROPIC, upstream=CHAT).body
    assert back["messages"] == body["messages"]
    responses = translate_request(anthropic, client=ANTHROPIC, upstream=RESPONSES).body
    urls = [c["image_url"] for c in responses["input"][0]["content"] if c["type"] == "input_image"]
    assert urls == ["data:image/png;base64,iVBORw0KGgo=", "https://example.com/a.png"]


def test_parallel_tool_results_join_one_anthropic_user_turn() -> None:
    body = {
        "model": "gpt-x",
        "messages": [
            {"role": "user", "content": "two"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "g", "arguments": '{"x":1}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": "A"},
            {"role": "tool", "tool_call_id": "call_b", "content": "B"},
        ],
        "parallel_tool_calls": False,
        "tools": [
            {"type": "function", "function": {"name": "f"}},
            {"type": "function", "function": {"name": "g"}},
        ],
    }
    out = translate_request(body, client=CHAT, upstream=ANTHROPIC).body
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert [b["tool_use_id"] for b in out["messages"][2]["content"]] == ["call_a", "call_b"]
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_ids_anthropic_rejects_are_mapped_the_same_way_on_call_and_result() -> None:
    body = {
        "model": "m",
        "input": [
            {"type": "function_call", "call_id": "call:1/x", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call:1/x", "output": "r"},
        ],
    }
    out = translate_request(body, client=RESPONSES, upstream=ANTHROPIC).body
    use_id = out["messages"][0]["content"][0]["id"]
    assert use_id == out["messages"][1]["content"][0]["tool_use_id"]
    assert use_id.startswith("toolu_")


def test_reasoning_effort_becomes_adaptive_thinking_and_sampling_is_dropped() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "reasoning_effort": "minimal",
        "temperature": 0.2,
    }
    out = translate_request(body, client=CHAT, upstream=ANTHROPIC)
    assert out.body["thinking"] == {"type": "adaptive"}
    assert out.body["output_config"] == {"effort": "low"}
    assert "temperature" not in out.body
    assert any("temperature" in d for d in out.context.degraded)


def test_stop_sequences_are_dropped_for_responses_with_a_note() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "x"}],
        "stop_sequences": ["END"],
    }
    out = translate_request(body, client=ANTHROPIC, upstream=RESPONSES)
    assert "stop" not in out.body
    assert "stop sequences dropped: Responses has none" in out.context.degraded
    assert translate_request(body, client=ANTHROPIC, upstream=CHAT).body["stop"] == ["END"]


@pytest.mark.parametrize(
    ("client", "body"),
    [
        (CHAT, {"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}),
        (RESPONSES, {"model": "m", "previous_response_id": "resp_1", "input": "x"}),
    ],
)
def test_what_cannot_be_expressed_is_refused(client: WireProtocol, body: dict[str, Any]) -> None:
    with pytest.raises(TranslationRefusedError) as caught:
        translate_request(body, client=client, upstream=ANTHROPIC)
    assert caught.value.code == "translation_unsupported"


def test_model_alias_replaces_the_model() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
    }
    out = translate_request(body, client=ANTHROPIC, upstream=CHAT, model="deepseek-chat")
    assert out.body["model"] == "deepseek-chat"


def test_thinking_display_follows_the_callers_summary_request() -> None:
    body = {"model": "m", "input": "x", "reasoning": {"effort": "high", "summary": "detailed"}}
    out = translate_request(body, client=RESPONSES, upstream=ANTHROPIC).body
    assert out["thinking"] == {"type": "adaptive", "display": "summarized"}
    hidden = {
        "model": "m",
        "max_tokens": 9,
        "messages": [{"role": "user", "content": "x"}],
        "thinking": {"type": "adaptive", "display": "omitted"},
        "output_config": {"effort": "max"},
    }
    assert (
        translate_request(hidden, client=ANTHROPIC, upstream=CHAT).body["reasoning_effort"] == "max"
    )


def test_same_protocol_is_not_a_translation() -> None:
    with pytest.raises(ValueError, match="two different protocols"):
        translate_request({"model": "m", "input": "x"}, client=RESPONSES, upstream=RESPONSES)
