"""OpenAI Responses streams written from neutral stream events, straight to SSE text.

The Responses stream is the chattiest of the protocols (numbered events, each item opened,
its text repeated whole in three `.done` events and again in `response.completed`), so its
encoder writes each event's SSE text directly: no event dicts, the answer's texts encoded
once, and each item's delta events written from a prefix made when the item opens. The text is
exactly what serialising the event dicts whole with `compact_json` gives
(tests/providers/translate/test_responses_encoder.py); `StreamTranslator` parses it back for
callers that want the events as dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from json.encoder import encode_basestring as _str
from typing import Any

from spectra.providers.types import Usage

from .common import (
    compact_json,
    encrypted_for,
    openai_id,
    responses_status,
    responses_usage,
)
from .context import TranslationContext
from .ir import BlockStart, BlockStop, Delta, End, Reasoning, Start, StreamEvent
from .responses_response import envelope

_FAILED_CODES = {
    "rate_limit_error": "rate_limit_exceeded",
    "invalid_request_error": "invalid_prompt",
}
_DELTA_KINDS = {
    "message": "text",
    "function_call": "args",
    "custom_tool_call": "args",
    "reasoning": "thinking",
}
"""The one delta kind each item type takes."""
_DELTA_EVENTS = {
    "message": ("response.output_text.delta", ',"content_index":0,"delta":', ',"logprobs":[]}'),
    "function_call": ("response.function_call_arguments.delta", ',"delta":', "}"),
    "custom_tool_call": ("response.custom_tool_call_input.delta", ',"delta":', "}"),
    "reasoning": ("response.reasoning_summary_text.delta", ',"summary_index":0,"delta":', "}"),
}
"""Per item type: the delta event's type, the JSON between the item's ids and the delta
string, and after it."""


def _head(kind: str) -> str:
    """An event's SSE text up to its sequence number."""
    return f'event: {kind}\ndata: {{"type":"{kind}","sequence_number":'


_EMPTY = '""'


def _message(item_id: str, status: str, content: str) -> str:
    """A message item, its id and content already JSON."""
    head = f'{{"id":{item_id},"type":"message","role":"assistant","status":"{status}"'
    return f'{head},"content":{content}}}'


def _output_text(text: str) -> str:
    """A message's `output_text` part, `text` already encoded."""
    return f'{{"type":"output_text","text":{text},"annotations":[],"logprobs":[]}}'


@dataclass(slots=True)
class _Item:
    """An open output item: its JSON ids, the pieces of its text (or arguments, or reasoning
    summary) so far, and the SSE text of its delta events around the number and the string."""

    type: str
    position: int
    item_id: str
    """The item's id, as a JSON string."""
    fields: dict[str, Any]
    """The item as `output_item.added` showed it (tool calls and reasoning; not messages)."""
    delta_head: str
    delta_middle: str
    delta_tail: str
    pieces: list[str] = field(default_factory=list)
    summary: bool = False
    """A reasoning item whose summary part is open."""

    @property
    def ids(self) -> str:
        return f'"item_id":{self.item_id},"output_index":{self.position}'


class ResponsesEncoder:
    """Writes neutral stream events as the Responses stream the openai SDK reads, as SSE text.
    The `.done` events and `response.completed` repeat the whole item, so what was sent is
    kept (as its pieces, joined and encoded once when the item closes)."""

    def __init__(self, ctx: TranslationContext) -> None:
        self._created = ctx.created
        self._seq = 0
        self._resp: dict[str, Any] = {}
        self._opened = ""
        """`_resp` serialised, as `response.created` showed it."""
        self._items: dict[int, _Item] = {}
        self._done: list[str] = []
        """The closed items, serialised."""

    def _event(self, kind: str, rest: str) -> str:
        """Event `kind`, numbered, with `rest` (its other members as JSON) after the number."""
        seq = self._seq
        self._seq = seq + 1
        return f"{_head(kind)}{seq},{rest}}}\n\n"

    def delta(self, index: int, kind: str, value: str) -> str | None:
        """The SSE text of a `kind` delta carrying `value` into upstream block `index`, kept for
        the `.done` events; None when it needs `feed` (no such open item, another kind, or a
        first thinking delta, which also opens the summary part)."""
        item = self._items.get(index)
        if item is None or _DELTA_KINDS[item.type] != kind:
            return None
        if kind == "thinking" and not item.summary:
            return None
        item.pieces.append(value)
        seq = self._seq
        self._seq = seq + 1
        return item.delta_head + str(seq) + item.delta_middle + _str(value) + item.delta_tail

    def feed(self, event: StreamEvent) -> str:
        if isinstance(event, Start):
            self._resp = envelope(event.id, event.model, event.created or self._created, [])
            self._opened = compact_json(self._resp)
            response = '"response":' + self._opened  # serialised once for both
            created = self._event("response.created", response)
            return created + self._event("response.in_progress", response)
        if isinstance(event, BlockStart):
            return self._start(event)
        if isinstance(event, Delta):
            return self._delta(event)
        if isinstance(event, BlockStop):
            return self._stop(event.index)
        if isinstance(event, End):
            return self._end(event)
        error = event.error
        failed = {"code": _FAILED_CODES.get(error.type, "server_error"), "message": error.message}
        resp = self._resp or envelope("", "", self._created, [])  # failed before it started
        failure = compact_json(resp | {"status": "failed", "error": failed})
        return self._event("response.failed", '"response":' + failure)

    def _end(self, event: End) -> str:
        status, details = responses_status(event.stop_reason)
        usage = compact_json(responses_usage(event.usage or Usage(), event.reasoning_tokens))
        kind = "response.completed" if status == "completed" else "response.incomplete"
        output = "[" + ",".join(self._done) + "]"  # the items as `output_item.done` wrote them
        if not self._resp:  # ended before it started
            bare = f'"status":{_str(status)},"incomplete_details":{compact_json(details)}'
            return self._event(kind, f'"response":{{{bare},"output":{output},"usage":{usage}}}')
        # the opening envelope with its status, output and details changed: no JSON string
        # holds an unescaped quote, so the first `"status":` and `"output":` are its own
        text = self._opened.replace('"status":"in_progress"', f'"status":"{status}"', 1)
        text = text.replace('"output":[]', f'"output":{output}', 1)
        text = text.removesuffix('"incomplete_details":null}')
        ending = "null" if details is None else compact_json(details)
        return self._event(
            kind, f'"response":{text}"incomplete_details":{ending},"usage":{usage}}}'
        )

    def _start(self, event: BlockStart) -> str:
        position = len(self._done) + len(self._items)
        fields: dict[str, Any] = {}
        if event.kind == "text":
            kind, item_id = "message", f"msg_{self._resp.get('id', '')}_{position}"
        elif event.kind == "tool":
            call_id = openai_id(event.call_id)
            kind = "custom_tool_call" if event.custom else "function_call"
            item_id = f"fc_{call_id}"
            fields = {"id": item_id, "call_id": call_id, "name": event.name}
            fields |= {"status": "in_progress", "type": kind}
            fields["input" if event.custom else "arguments"] = ""
            if event.namespace:
                fields["namespace"] = event.namespace
        else:
            kind, item_id = "reasoning", f"rs_{self._resp.get('id', '')}_{position}"
            fields = {"id": item_id, "type": kind, "summary": [], "status": "in_progress"}
        delta_kind, middle, tail = _DELTA_EVENTS[kind]
        item = _Item(kind, position, _str(item_id), fields, _head(delta_kind), "", tail + "\n\n")
        item.delta_middle = f",{item.ids}{middle}"
        self._items[event.index] = item
        added = f'"output_index":{position},"item":'
        if kind != "message":
            return self._event("response.output_item.added", added + compact_json(fields))
        message = _message(item.item_id, "in_progress", "[]")
        part = f'{item.ids},"content_index":0,"part":{_output_text(_EMPTY)}'
        return self._event("response.output_item.added", added + message) + self._event(
            "response.content_part.added", part
        )

    def _delta(self, event: Delta) -> str:
        item = self._items.get(event.index)
        if item is None:
            return ""
        if event.kind == "opaque":
            if item.type == "reasoning":
                reasoning = Reasoning("", event.origin, event.value, event.item_id)
                item.fields["encrypted_content"] = encrypted_for(reasoning)
            return ""
        opened = ""
        if event.kind == "thinking" and item.type == "reasoning" and not item.summary:
            item.summary = True
            part = f'{item.ids},"summary_index":0,"part":{{"type":"summary_text","text":""}}'
            opened = self._event("response.reasoning_summary_part.added", part)
        return opened + (self.delta(event.index, event.kind, event.value) or "")

    def _stop(self, index: int) -> str:
        item = self._items.pop(index, None)
        if item is None:
            return ""
        raw = "".join(item.pieces)
        text = _str(raw)
        if item.type == "message":
            out, done = self._message_done(item, text)
        else:
            out, done = self._item_done(item, raw, text), compact_json(item.fields)
        self._done.append(done)
        added = f'"output_index":{item.position},"item":{done}'
        return out + self._event("response.output_item.done", added)

    def _message_done(self, item: _Item, text: str) -> tuple[str, str]:
        """The `.done` events of a message with `text` (encoded), and the done item."""
        part = _output_text(text)
        out = self._event(
            "response.output_text.done", f'{item.ids},"content_index":0,"text":{text},"logprobs":[]'
        )
        out += self._event(
            "response.content_part.done", f'{item.ids},"content_index":0,"part":{part}'
        )
        return out, _message(item.item_id, "completed", f"[{part}]")

    def _item_done(self, item: _Item, raw: str, text: str) -> str:
        """The `.done` events of a tool call or reasoning item whose text is `raw` (`text`
        encoded), which completes its fields."""
        fields, ids, out = item.fields, item.ids, ""
        if item.type == "function_call":
            fields["arguments"] = raw
            args = f'{ids},"arguments":{text},"name":{_str(fields["name"])}'
            out = self._event("response.function_call_arguments.done", args)
        elif item.type == "custom_tool_call":
            fields["input"] = raw
            out = self._event("response.custom_tool_call_input.done", f'{ids},"input":{text}')
        elif item.summary:
            fields["summary"] = [{"type": "summary_text", "text": raw}]
            summary = f'{ids},"summary_index":0,'
            out = self._event("response.reasoning_summary_text.done", f'{summary}"text":{text}')
            part = f'"part":{{"type":"summary_text","text":{text}}}'
            out += self._event("response.reasoning_summary_part.done", summary + part)
        fields["status"] = "completed"
        return out

    def finish(self) -> str:
        return ""
