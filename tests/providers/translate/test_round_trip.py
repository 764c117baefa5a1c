"""Property: a random valid request in protocol A, translated to B and back to A, keeps
everything B can express. Bodies are drawn in the neutral form, written out by A's writer
and checked against A's SDK request type before the round trip."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spectra.providers.translate import (
    anthropic_request,
    chat_request,
    responses_request,
    translate_request,
)
from spectra.providers.translate.ir import (
    Image,
    Message,
    Part,
    Request,
    Text,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from spectra.providers.types import WireProtocol

from .support import ANTHROPIC, CHAT, RESPONSES, sdk_request, without_system_messages

READ = {
    ANTHROPIC: anthropic_request.read_request,
    CHAT: chat_request.read_request,
    RESPONSES: responses_request.read_request,
}
WRITE = {
    ANTHROPIC: anthropic_request.write_request,
    CHAT: chat_request.write_request,
    RESPONSES: responses_request.write_request,
}

words = st.text(string.ascii_letters + string.digits + " é☃\n", min_size=1, max_size=20)
names = st.text(string.ascii_lowercase, min_size=1, max_size=8)
ids = st.text(string.ascii_letters + string.digits, min_size=4, max_size=12).map(
    lambda s: f"call_{s}"
)
images = st.one_of(
    st.builds(lambda s: Image(url=f"https://example.com/{s}.png"), names),
    st.builds(
        lambda s: Image(media_type="image/png", data=s + "=="),
        st.text(string.ascii_letters, min_size=4, max_size=12),
    ),
)
arguments = st.dictionaries(
    names, st.one_of(st.integers(-5, 5), words, st.booleans()), max_size=3
).map(json.dumps)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    tools = [
        Tool(
            name,
            draw(st.one_of(st.none(), words)),
            {"type": "object", "properties": {"x": {"type": "string"}}},
        )
        for name in draw(st.lists(names, min_size=1, max_size=3, unique=True))
    ]
    messages: list[Message] = []
    for _ in range(draw(st.integers(1, 3))):
        pending = [p for p in (messages[-1].parts if messages else []) if isinstance(p, ToolCall)]
        user: list[Part] = [ToolResult(c.id, [Text(draw(words))]) for c in pending]
        if not pending or draw(st.booleans()):
            user.append(Text(draw(words)))
            if draw(st.booleans()):
                user.append(draw(images))
        messages.append(Message("user", user))
        assistant: list[Part] = []
        if draw(st.booleans()):
            assistant.append(Text(draw(words)))
        calls = draw(
            st.lists(
                st.tuples(ids, st.sampled_from(tools), arguments),
                max_size=2,
                unique_by=lambda c: c[0],
            )
        )
        assistant += [ToolCall(i, t.name, a) for i, t, a in calls]
        if not assistant:
            assistant.append(Text(draw(words)))
        messages.append(Message("assistant", assistant))
    last: list[Part] = [
        ToolResult(p.id, [Text("done")]) for p in messages[-1].parts if isinstance(p, ToolCall)
    ]
    messages.append(Message("user", [*last, Text("next")]))
    effort = draw(st.sampled_from([None, "low", "medium", "high", "xhigh", "max"]))
    choice = draw(
        st.one_of(
            st.none(),
            st.sampled_from(["auto", "required", "none"]).map(lambda m: ToolChoice(m)),  # type: ignore[arg-type]
            st.sampled_from(tools).map(lambda t: ToolChoice("tool", t.name)),
        )
    )
    return Request(
        model="m",
        system=draw(st.lists(words.map(Text), max_size=1)),
        messages=messages,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=draw(st.sampled_from([None, False, True])),
        max_tokens=draw(st.integers(30000, 64000) if effort else st.integers(1, 64000)),
        temperature=None
        if effort
        else draw(st.one_of(st.none(), st.integers(0, 100).map(lambda n: n / 100))),
        top_p=None
        if effort
        else draw(st.one_of(st.none(), st.integers(1, 100).map(lambda n: n / 100))),
        stop=draw(st.lists(words, max_size=4)),
        user=draw(st.one_of(st.none(), names)),
        effort=effort,
    )


def _part(part: Part) -> Any:
    if isinstance(part, Text):
        return ("text", part.text)
    if isinstance(part, Image):
        return ("image", part.url or f"data:{part.media_type};base64,{part.data}")
    if isinstance(part, ToolCall):
        return ("call", part.id, part.name, json.loads(part.arguments))
    if isinstance(part, ToolResult):
        return ("result", part.call_id, [_part(p) for p in part.content])
    return ("reasoning", part.text)


def _project(req: Request, via: WireProtocol) -> dict[str, Any]:
    """What survives a trip through `via`."""
    last = next(m for m in reversed(req.messages) if m.role == "assistant")
    effort = req.effort
    if via is ANTHROPIC and any(isinstance(p, ToolCall) for p in last.parts):
        effort = None  # Anthropic thinking needs the thinking block OpenAI never gave
    return {
        "system": "\n\n".join(t.text for t in req.system),
        "messages": [(m.role, [_part(p) for p in m.parts]) for m in req.messages],
        "tools": [(t.name, t.description, t.parameters) for t in req.tools],
        "tool_choice": req.tool_choice or ToolChoice("auto"),
        "parallel": None
        if via is ANTHROPIC and (req.parallel_tool_calls or _no_calls(req))
        else req.parallel_tool_calls,
        "max_tokens": req.max_tokens,
        "sampling": (None, None) if via is ANTHROPIC else (req.temperature, req.top_p),
        "stop": [] if via is RESPONSES else req.stop,
        "user": req.user,
        "effort": effort,
    }


def _no_calls(req: Request) -> bool:
    return req.tool_choice is not None and req.tool_choice.mode == "none"


PAIRS = [
    (a, b) for a in (ANTHROPIC, CHAT, RESPONSES) for b in (ANTHROPIC, CHAT, RESPONSES) if a is not b
]


@pytest.mark.parametrize(("source", "via"), PAIRS, ids=lambda p: p.value)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(req=requests())
def test_translate_and_back_keeps_what_the_target_can_express(
    source: WireProtocol, via: WireProtocol, req: Request
) -> None:
    body = WRITE[source](req)
    assert sdk_request(source, body) == (
        without_system_messages(body) if source is ANTHROPIC else body
    )
    there = translate_request(body, client=source, upstream=via).body
    back = translate_request(there, client=via, upstream=source).body
    assert _project(READ[source](back), via) == _project(READ[source](body), via)
