"""Gemini generateContent ⇄ the other protocols: requests both ways (checked against the
google-genai SDK's wire types and the other SDKs' request types), answers whole and streamed
(incrementally), usage from `usageMetadata`, function calling, images and errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.genai import types as gtypes
from tests.fakes.gemini import gemini_body, gemini_events
from tests.fakes.upstream import (
    Reply,
    ToolCall,
    anthropic_body,
    anthropic_events,
    chat_body,
    chat_events,
    responses_body,
    responses_events,
)

from spectra.providers.sse import SSEParser
from spectra.providers.translate import (
    SSEStreamTranslator,
    TranslationRefusedError,
    translate_error,
    translate_request,
    translate_response,
)
from spectra.providers.types import WireProtocol

from .support import (
    ANTHROPIC,
    CHAT,
    RESPONSES,
    anthropic_final,
    chat_final,
    responses_final,
    sdk_request,
)

GEMINI = WireProtocol.GEMINI
OTHERS = [ANTHROPIC, CHAT, RESPONSES]
JsonDict = dict[str, Any]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
SCHEMA: JsonDict = {
    "type": "object",
    "properties": {"command": {"type": "string"}},
    "required": ["command"],
}
REPLY = Reply(
    text="Listing the files.",
    pieces=3,
    input_tokens=40,
    output_tokens=9,
    cache_read_tokens=8,
    tool_call=ToolCall(name="run_shell_command", arguments={"command": "ls"}, call_id="call_g1"),
)

# A Gemini CLI turn: system instruction, a call (without id, as older models send) and its
# response, an image, tools declared with JSON Schema, thinking asked for.
GEMINI_CLI_BODY: JsonDict = {
    "systemInstruction": {"role": "user", "parts": [{"text": "You are Gemini CLI."}]},
    "contents": [
        {"role": "user", "parts": [{"text": "list the files"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Running ls."},
                {"functionCall": {"name": "run_shell_command", "args": {"command": "ls"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "run_shell_command",
                        "response": {"output": "a.txt\nb.txt"},
                    }
                }
            ],
        },
        {
            "role": "user",
            "parts": [
                {"text": "and this screenshot?"},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
            ],
        },
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "run_shell_command",
                    "description": "Runs a shell command.",
                    "parametersJsonSchema": SCHEMA,
                }
            ]
        }
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {
        "temperature": 0,
        "topP": 1,
        "maxOutputTokens": 2048,
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 8192},
    },
}


def _gemini_request(body: JsonDict) -> JsonDict:
    """`body` as the google-genai SDK's wire types read it back (they forbid unknown keys)."""
    out: JsonDict = {
        "contents": [_dump(gtypes.Content.model_validate(c)) for c in body["contents"]]
    }
    if "systemInstruction" in body:
        out["systemInstruction"] = _dump(gtypes.Content.model_validate(body["systemInstruction"]))
    if "tools" in body:
        out["tools"] = [_dump(gtypes.Tool.model_validate(t)) for t in body["tools"]]
    if "toolConfig" in body:
        out["toolConfig"] = _dump(gtypes.ToolConfig.model_validate(body["toolConfig"]))
    if "generationConfig" in body:
        out["generationConfig"] = _dump(
            gtypes.GenerationConfig.model_validate(body["generationConfig"])
        )
    return out


def _dump(model: Any) -> JsonDict:
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")  # type: ignore[no-any-return]


def test_gemini_cli_body_is_the_sdk_wire_shape() -> None:
    assert _gemini_request(GEMINI_CLI_BODY) == GEMINI_CLI_BODY


@pytest.mark.parametrize("upstream", OTHERS, ids=lambda p: p.value)
def test_gemini_request_to_other_protocols(upstream: WireProtocol) -> None:
    out = translate_request(
        GEMINI_CLI_BODY, client=GEMINI, upstream=upstream, model="m-1", stream=True
    )
    body = out.body
    assert sdk_request(upstream, body) == body
    assert (body["model"], body["stream"], out.model, out.stream) == ("m-1", True, "m-1", True)
    text = json.dumps(body)
    assert "You are Gemini CLI." in text
    assert PNG in text
    assert "a.txt\\nb.txt" in text
    if upstream is ANTHROPIC:
        call = body["messages"][1]["content"][1]
        result = body["messages"][2]["content"][0]
        assert call["type"] == "tool_use"
        assert call["input"] == {"command": "ls"}
        assert result["tool_use_id"] == call["id"]
        assert body["tools"][0]["input_schema"] == SCHEMA
    elif upstream is CHAT:
        call = body["messages"][2]["tool_calls"][0]
        assert body["messages"][3] == {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": "a.txt\nb.txt",
        }
        assert body["tools"][0]["function"]["parameters"] == SCHEMA
    else:
        items = body["input"]
        call = next(i for i in items if i.get("type") == "function_call")
        output = next(i for i in items if i.get("type") == "function_call_output")
        assert output["call_id"] == call["call_id"]
    assert "generationConfig.thinkingConfig" not in " ".join(out.context.degraded)


def test_gemini_refuses_what_others_cannot_express() -> None:
    for body, field in (
        ({"contents": [], "generationConfig": {"candidateCount": 2}}, "candidateCount"),
        ({"contents": [], "cachedContent": "cachedContents/abc"}, "cachedContent"),
    ):
        with pytest.raises(TranslationRefusedError, match=field):
            translate_request(body, client=GEMINI, upstream=ANTHROPIC, model="m")


def test_gemini_degradations_are_named() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [{"googleSearch": {}}],
        "generationConfig": {"responseMimeType": "application/json"},
        "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
    }
    out = translate_request(body, client=GEMINI, upstream=CHAT, model="gpt-5")
    assert out.context.degraded == (
        "tool 'googleSearch' has no equivalent and was dropped",
        "generationConfig.responseMimeType has no equivalent and was dropped",
        "safetySettings have no equivalent and were dropped",
    )


ANTHROPIC_BODY: JsonDict = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1000,
    "system": "Be brief.",
    "stop_sequences": ["END"],
    "tool_choice": {"type": "tool", "name": "Bash"},
    "tools": [{"name": "Bash", "description": "Run", "input_schema": SCHEMA}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "list"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
            ],
        },
    ],
}
CHAT_BODY: JsonDict = {
    "model": "gpt-5",
    "reasoning_effort": "low",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "list"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "Bash", "arguments": '{"command": "ls"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
    ],
    "tools": [{"type": "function", "function": {"name": "Bash", "parameters": SCHEMA}}],
}
RESPONSES_BODY: JsonDict = {
    "model": "gpt-5",
    "instructions": "Be brief.",
    "input": [
        {"role": "user", "content": "list"},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "Bash",
            "arguments": '{"command": "ls"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
    ],
    "tools": [{"type": "function", "name": "Bash", "parameters": SCHEMA, "strict": False}],
}


@pytest.mark.parametrize(
    ("client", "body"),
    [(ANTHROPIC, ANTHROPIC_BODY), (CHAT, CHAT_BODY), (RESPONSES, RESPONSES_BODY)],
    ids=lambda p: p.value if isinstance(p, WireProtocol) else "",
)
def test_other_protocols_to_gemini(client: WireProtocol, body: JsonDict) -> None:
    out = translate_request(body, client=client, upstream=GEMINI, model="gemini-2.5-pro")
    written = out.body
    assert _gemini_request(written) == written
    assert out.model == "gemini-2.5-pro"
    assert "model" not in written
    assert written["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    model_turn = next(c for c in written["contents"] if c["role"] == "model")
    call = model_turn["parts"][0]
    assert call["functionCall"]["name"] == "Bash"
    assert call["functionCall"]["args"] == {"command": "ls"}
    assert call["thoughtSignature"] == "skip_thought_signature_validator"
    result = next(
        p["functionResponse"]
        for c in written["contents"]
        for p in c["parts"]
        if "functionResponse" in p
    )
    assert result == {
        "id": call["functionCall"]["id"],
        "name": "Bash",
        "response": {"output": "a.txt"},
    }
    decl = written["tools"][0]["functionDeclarations"][0]
    assert decl["parametersJsonSchema"] == SCHEMA
    if client is ANTHROPIC:
        assert written["toolConfig"] == {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["Bash"]}
        }
        assert written["generationConfig"] == {"maxOutputTokens": 1000, "stopSequences": ["END"]}
        image = written["contents"][-1]["parts"][-1]
        assert image == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    if client is CHAT:
        assert written["generationConfig"]["thinkingConfig"] == {
            "thinkingBudget": 4096,
            "includeThoughts": True,
        }


_BODIES = {ANTHROPIC: anthropic_body, CHAT: chat_body, RESPONSES: responses_body}


def _context(client: WireProtocol, upstream: WireProtocol) -> Any:
    body = (
        GEMINI_CLI_BODY
        if client is GEMINI
        else {CHAT: CHAT_BODY, ANTHROPIC: ANTHROPIC_BODY}.get(client, RESPONSES_BODY)
    )
    return translate_request(body, client=client, upstream=upstream, model="m").context


@pytest.mark.parametrize("upstream", OTHERS, ids=lambda p: p.value)
def test_other_answers_to_gemini_caller(upstream: WireProtocol) -> None:
    answer = json.loads(_BODIES[upstream](REPLY, "m"))
    body = translate_response(answer, _context(GEMINI, upstream))
    parsed = gtypes.GenerateContentResponse.model_validate(body)
    assert parsed.text == "Listing the files."
    (call,) = parsed.function_calls or []
    assert (call.name, call.args) == ("run_shell_command", {"command": "ls"})
    assert parsed.candidates is not None
    assert parsed.candidates[0].finish_reason == gtypes.FinishReason.STOP
    usage = parsed.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.cached_content_token_count) == (48, 8)
    assert usage.candidates_token_count == 9


@pytest.mark.parametrize("client", OTHERS, ids=lambda p: p.value)
def test_gemini_answer_to_other_callers(client: WireProtocol) -> None:
    body = translate_response(
        json.loads(gemini_body(REPLY, "gemini-2.5-pro")), _context(client, GEMINI)
    )
    if client is ANTHROPIC:
        assert [b["type"] for b in body["content"]] == ["text", "tool_use"]
        assert body["stop_reason"] == "tool_use"
        assert body["usage"]["input_tokens"] == 40
        assert body["usage"]["cache_read_input_tokens"] == 8
        assert body["model"] == "gemini-2.5-pro"
    elif client is CHAT:
        choice = body["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        assert choice["message"]["tool_calls"][0]["function"]["name"] == "run_shell_command"
        assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 8
    else:
        assert body["output"][-1]["type"] == "function_call"
        assert body["usage"]["output_tokens"] == 9


def test_gemini_thoughts_and_safety_block() -> None:
    answer = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "Let me think.", "thought": True}, {"text": "Done."}],
                },
                "finishReason": "MAX_TOKENS",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 3,
            "thoughtsTokenCount": 30,
        },
    }
    body = translate_response(answer, _context(ANTHROPIC, GEMINI))
    assert body["content"][0] == {"type": "thinking", "thinking": "Let me think.", "signature": ""}
    assert body["stop_reason"] == "max_tokens"
    assert body["usage"]["output_tokens"] == 33
    chat = translate_response(answer, _context(CHAT, GEMINI))
    assert chat["usage"]["completion_tokens_details"]["reasoning_tokens"] == 30
    blocked = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 5},
    }
    assert translate_response(blocked, _context(CHAT, GEMINI))["choices"][0]["finish_reason"] == (
        "content_filter"
    )


def _upstream_events(upstream: WireProtocol) -> list[bytes]:
    if upstream is ANTHROPIC:
        return anthropic_events(REPLY, "m")
    if upstream is CHAT:
        return chat_events(REPLY, "m", include_usage=True)
    if upstream is RESPONSES:
        return responses_events(REPLY, "m")
    return gemini_events(REPLY, "gemini-2.5-pro")


def _gemini_chunks(data: bytes) -> list[gtypes.GenerateContentResponse]:
    parser = SSEParser()
    events = parser.feed(data) + parser.close()
    assert all(not e.event for e in events)  # Gemini's stream has no event names
    return [gtypes.GenerateContentResponse.model_validate_json(e.data) for e in events]


@pytest.mark.parametrize("upstream", OTHERS, ids=lambda p: p.value)
def test_other_streams_to_gemini_caller_incrementally(upstream: WireProtocol) -> None:
    stream = SSEStreamTranslator(_context(GEMINI, upstream))
    outputs = [stream.feed(event) for event in _upstream_events(upstream)]
    tail = stream.finish()
    first_text = next(i for i, out in enumerate(outputs) if b"Listin" in out)
    assert first_text < len(outputs) - 3  # text goes out as it comes, not at the end
    assert b"[DONE]" not in b"".join(outputs) + tail
    chunks = _gemini_chunks(b"".join(outputs) + tail)
    text = "".join(c.text or "" for c in chunks if c.candidates and c.candidates[0].content)
    assert text == "Listing the files."
    calls = [f for c in chunks for f in c.function_calls or []]
    assert [(f.name, f.args) for f in calls] == [("run_shell_command", {"command": "ls"})]
    final = chunks[-1]
    assert final.candidates is not None
    assert final.candidates[0].finish_reason == gtypes.FinishReason.STOP
    assert final.usage_metadata is not None
    assert final.usage_metadata.prompt_token_count == 48
    assert final.usage_metadata.candidates_token_count == 9


@pytest.mark.parametrize("client", OTHERS, ids=lambda p: p.value)
def test_gemini_stream_to_other_callers(client: WireProtocol) -> None:
    stream = SSEStreamTranslator(_context(client, GEMINI))
    data = b"".join(stream.feed(event) for event in _upstream_events(GEMINI)) + stream.finish()
    assert stream.usage is not None
    assert (stream.usage.input_tokens, stream.usage.cache_read_tokens) == (40, 8)
    parser = SSEParser()
    events = [json.loads(e.data) for e in parser.feed(data) + parser.close() if e.data != "[DONE]"]
    if client is ANTHROPIC:
        message = anthropic_final(events)
        assert [b.type for b in message.content] == ["text", "tool_use"]
        assert message.stop_reason == "tool_use"
        assert message.usage.output_tokens == 9
    elif client is CHAT:
        completion = chat_final(events)
        assert completion.choices[0].message.content == "Listing the files."
        assert completion.choices[0].finish_reason == "tool_calls"
    else:
        response = responses_final(events)
        assert response.output_text == "Listing the files."
        assert response.usage is not None
        assert response.usage.input_tokens_details.cached_tokens == 8


def test_gemini_stream_cut_is_an_error() -> None:
    stream = SSEStreamTranslator(_context(ANTHROPIC, GEMINI))
    events = _upstream_events(GEMINI)
    data = b"".join(stream.feed(event) for event in events[:-1]) + stream.finish()
    assert b'"type":"error"' in data
    assert b"message_stop" not in data


def test_errors_cross_in_each_shape() -> None:
    limited = {
        "error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}
    }
    status, body = translate_error(429, json.dumps(limited).encode(), _context(ANTHROPIC, GEMINI))
    assert (status, body["error"]["type"]) == (429, "rate_limit_error")
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    status, body = translate_error(529, overloaded, _context(GEMINI, ANTHROPIC))
    assert (status, body) == (
        503,
        {"error": {"code": 503, "message": "Overloaded", "status": "UNAVAILABLE"}},
    )
    too_long = {
        "error": {
            "code": 400,
            "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            "status": "INVALID_ARGUMENT",
        }
    }
    status, body = translate_error(400, too_long, _context(ANTHROPIC, GEMINI))
    assert body["error"]["message"].startswith("prompt is too long")
    _, chat = translate_error(400, too_long, _context(CHAT, GEMINI))
    assert chat["error"]["code"] == "context_length_exceeded"
