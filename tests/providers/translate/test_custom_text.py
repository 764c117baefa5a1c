"""A custom tool's free text recovered, fragment by fragment, from the JSON arguments of the
function that stands in for it on Anthropic and Chat upstreams."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from spectra.providers.translate import StreamTranslator, translate_request
from spectra.providers.translate.custom_text import InputTextDecoder

from .support import ANTHROPIC, RESPONSES, JsonDict, responses_final


@given(text=st.text(), ascii_only=st.booleans(), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_any_split_of_the_arguments_decodes_to_the_text(
    text: str, ascii_only: bool, cuts: list[int]
) -> None:
    whole = json.dumps({"input": text}, ensure_ascii=ascii_only)
    bounds = sorted({0, len(whole), *(c for c in cuts if c < len(whole))})
    decoder = InputTextDecoder()
    out = "".join(decoder.feed(whole[a:b]) for a, b in itertools.pairwise(bounds))
    assert out + decoder.finish() == text


def test_text_flows_before_the_arguments_are_complete() -> None:
    decoder = InputTextDecoder()
    assert decoder.feed('{"input": "tools.exec') == "tools.exec"
    assert decoder.feed("_command(\\") == "_command("
    assert decoder.feed('"ls\\")\\n') == '"ls")\n'
    assert decoder.feed('"}') == ""
    assert decoder.finish() == ""


def test_arguments_of_another_shape_decode_once_complete() -> None:
    decoder = InputTextDecoder()
    assert decoder.feed('{"cmd": "ls"') == ""
    assert decoder.feed("}") == ""
    assert decoder.finish() == '{"cmd": "ls"}'


def test_codex_custom_call_from_anthropic_streams_its_input_as_it_comes() -> None:
    body: JsonDict = {
        "model": "gpt-6",
        "input": [
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "functions",
                        "description": "",
                        "tools": [{"type": "custom", "name": "exec"}],
                    }
                ],
            },
            {"role": "user", "content": "run"},
        ],
    }
    translator = StreamTranslator(
        translate_request(body, client=RESPONSES, upstream=ANTHROPIC).context
    )
    usage = {"input_tokens": 5, "output_tokens": 1}
    head: list[JsonDict] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude",
                "content": [],
                "usage": usage,
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "exec", "input": {}},
        },
    ]
    pieces = ['{"input": "tools.', 'exec_command({cmd: \\"l', 's\\"})"}']
    events = [e for up in head for e in translator.feed(up)]
    deltas = []
    for piece in pieces:
        out = translator.feed(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            }
        )
        deltas += [e["delta"] for e in out if e["type"] == "response.custom_tool_call_input.delta"]
        events += out
    assert deltas == ["tools.", 'exec_command({cmd: "l', 's"})']
    tail: list[JsonDict] = [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]
    events += [e for up in tail for e in translator.feed(up)] + translator.finish()
    (call,) = responses_final(events).output
    assert call.type == "custom_tool_call"
    assert call.input == 'tools.exec_command({cmd: "ls"})'
