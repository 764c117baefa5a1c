"""OpenAI Responses streams: events read into neutral stream events, and written from them."""

from __future__ import annotations

import functools
from typing import Any

from spectra.providers.types import Usage

from .common import (
    compact_json,
    encrypted_for,
    error_from_openai,
    openai_id,
    reasoning_from_encrypted,
    responses_status,
    responses_stop,
    responses_usage,
    truncated,
    usage_from_openai,
)
from .context import TranslationContext
from .ir import (
    BlockStart,
    BlockStop,
    Delta,
    End,
    Failure,
    Reasoning,
    Spliced,
    Start,
    StreamEvent,
)
from .responses_request import flat_name
from .responses_response import envelope, message_item

_TEXT_DELTAS = ("response.output_text.delta", "response.refusal.delta")
_ARG_DELTAS = ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta")
_THINKING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")
_FAILED_CODES = {
    "rate_limit_error": "rate_limit_exceeded",
    "invalid_request_error": "invalid_prompt",
}


class ResponsesDecoder:
    """Reads an upstream Responses stream, one event's JSON data at a time."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._open: set[int] = set()
        self._args_seen: set[int] = set()
        self._tool_seen = False
        self._started = False
        self._ended = False

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        index = event.get("output_index")
        if kind in ("response.created", "response.in_progress") and not self._started:
            resp = event.get("response") or {}
            self._started = True
            return [
                Start(
                    str(resp.get("id") or ""),
                    str(resp.get("model") or ""),
                    None,
                    int(resp.get("created_at") or 0),
                )
            ]
        if kind == "response.output_item.added" and isinstance(index, int):
            return self._item_added(index, event.get("item") or {})
        opens_text = kind == "response.content_part.added" or kind in _TEXT_DELTAS
        if opens_text and isinstance(index, int) and index not in self._open:
            # a text part opens its block; some servers skip straight to the first delta
            self._open.add(index)
            opened: list[StreamEvent] = [BlockStart(index, "text")]
            if kind in _TEXT_DELTAS and event.get("delta"):
                opened.append(Delta(index, "text", str(event["delta"])))
            return opened
        if not isinstance(index, int) or (
            kind != "response.output_item.done" and index not in self._open
        ):
            return self._terminal(kind, event)
        if kind in _TEXT_DELTAS:
            return [Delta(index, "text", str(event.get("delta") or ""))]
        if kind in _ARG_DELTAS:
            self._args_seen.add(index)
            return [Delta(index, "args", str(event.get("delta") or ""))]
        if kind in _THINKING_DELTAS:
            return [Delta(index, "thinking", str(event.get("delta") or ""))]
        if kind == "response.reasoning_summary_part.added" and event.get("summary_index"):
            return [Delta(index, "thinking", "\n\n")]
        if kind == "response.output_item.done":
            return self._item_done(index, event.get("item") or {})
        return []

    def delta_of(self, event: dict[str, Any]) -> tuple[int, str, str] | None:
        """`(index, kind, value)` when `event` is a text, arguments or thinking delta into an
        open item, which `feed` would read as just that `Delta`; None for anything else (then
        call `feed`)."""
        kind, index, value = event.get("type"), event.get("output_index"), event.get("delta")
        if not isinstance(index, int) or index not in self._open or not isinstance(value, str):
            return None
        if kind in _TEXT_DELTAS:
            return index, "text", value
        if kind in _ARG_DELTAS:
            self._args_seen.add(index)
            return index, "args", value
        return (index, "thinking", value) if kind in _THINKING_DELTAS else None

    def _item_added(self, index: int, item: dict[str, Any]) -> list[StreamEvent]:
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call"):
            self._open.add(index)
            self._tool_seen = True
            name = flat_name(item.get("namespace"), str(item.get("name") or ""))
            return [
                BlockStart(
                    index, "tool", str(item.get("call_id") or ""), name, kind == "custom_tool_call"
                )
            ]
        if kind == "reasoning":
            self._open.add(index)
            return [BlockStart(index, "reasoning")]
        return []

    def _item_done(self, index: int, item: dict[str, Any]) -> list[StreamEvent]:
        if index not in self._open:
            return []
        self._open.discard(index)
        out: list[StreamEvent] = []
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call") and index not in self._args_seen:
            value = item.get("arguments") if kind == "function_call" else item.get("input")
            if value:
                out.append(Delta(index, "args", str(value)))
        if kind == "reasoning" and item.get("encrypted_content"):
            reasoning = reasoning_from_encrypted("", item["encrypted_content"], item.get("id"))
            out.append(
                Delta(index, "opaque", reasoning.opaque or "", reasoning.origin, reasoning.item_id)
            )
        out.append(BlockStop(index))
        return out

    def _terminal(self, kind: object, event: dict[str, Any]) -> list[StreamEvent]:
        resp = event.get("response") or {}
        if kind in ("response.completed", "response.incomplete"):
            self._ended = True
            self.usage, reasoning_tokens = usage_from_openai(resp.get("usage"))
            stop = responses_stop(resp, has_tool_call=self._tool_seen)
            return [End(stop, self.usage, reasoning_tokens=reasoning_tokens)]
        if kind == "response.failed":
            self._ended = True
            error = resp.get("error") or {}
            code = str(error.get("code") or "")
            status = 429 if "rate_limit" in code else 500
            return [Failure(error_from_openai(status, {"error": error}))]
        if kind == "error":
            self._ended = True
            return [Failure(error_from_openai(500, {"error": event}))]
        return []

    def finish(self) -> list[StreamEvent]:
        if self._started and not self._ended:
            self._ended = True
            return [truncated()]
        return []


def _response_event(kind: str, seq: int, response: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "sequence_number": seq, "response": response}


def _item_added(kind: str, seq: int, position: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "sequence_number": seq, "output_index": position, "item": item}


def _message_added(seq: int, position: int, item_id: str) -> dict[str, Any]:
    item = message_item(item_id, "", "in_progress") | {"content": []}
    return _item_added("response.output_item.added", seq, position, item)


def _part(kind: str, seq: int, item_id: str, position: int, text: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {
        "type": kind,
        "sequence_number": seq,
        "item_id": item_id,
        "output_index": position,
        "content_index": 0,
        "part": part,
    }


def _text_done(seq: int, item_id: str, position: int, text: str) -> dict[str, Any]:
    return {
        "type": "response.output_text.done",
        "sequence_number": seq,
        "item_id": item_id,
        "output_index": position,
        "content_index": 0,
        "text": text,
        "logprobs": [],
    }


def _final(
    kind: str,
    seq: int,
    resp_id: str,
    model: str,
    created: int,
    status: str,
    details: object,
    output: list[dict[str, Any]],
    usage: dict[str, Any],
) -> dict[str, Any]:
    """`response.completed` / `.incomplete`: the envelope of `Start` with the answer's output."""
    whole = envelope(resp_id, model, created, output, status)
    whole["incomplete_details"] = details
    whole["usage"] = usage
    return _response_event(kind, seq, whole)


# Builders of `Spliced` events (whose type is part of the key, not a hole).
_STARTED = {
    kind: functools.partial(_response_event, kind)
    for kind in ("response.created", "response.in_progress")
}
_FINAL = {
    kind: functools.partial(_final, kind) for kind in ("response.completed", "response.incomplete")
}
_PART_ADDED = functools.partial(_part, "response.content_part.added")
_PART_DONE = functools.partial(_part, "response.content_part.done")
_ITEM_DONE = functools.partial(_item_added, "response.output_item.done")

_ARGS_EVENTS = {
    "function_call": "function_call_arguments",
    "custom_tool_call": "custom_tool_call_input",
}


class ResponsesEncoder:
    """Writes neutral stream events as the Responses stream the openai SDK reads. The `.done`
    events and `response.completed` repeat the whole item, so what was sent is kept."""

    def __init__(self, ctx: TranslationContext) -> None:
        self._created = ctx.created
        self._seq = 0
        self._resp: dict[str, Any] = {}
        self._output: list[dict[str, Any]] = []
        self._items: dict[int, dict[str, Any]] = {}
        self._done: list[str] = []
        """`_output`'s items serialised."""

    def _next(self) -> int:
        self._seq += 1
        return self._seq - 1

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def delta_key(self, index: int, kind: str) -> tuple[Any, ...] | None:
        """The template key of a text, arguments or thinking delta into upstream block `index`
        that writes exactly one event (a first thinking delta also opens its summary part:
        None), or None. Events with one key differ only in their sequence number and string."""
        item = self._items.get(index)
        if item is None:
            return None
        if kind == "text" and item["type"] == "message":
            field = "response.output_text.delta"
        elif kind == "args" and item["type"] in _ARGS_EVENTS:
            field = f"response.{_ARGS_EVENTS[item['type']]}.delta"
        elif kind == "thinking" and item["type"] == "reasoning" and item["summary"]:
            field = "response.reasoning_summary_text.delta"
        else:
            return None
        return (field, item["id"], item["_position"])

    @staticmethod
    def delta_event(key: tuple[Any, ...], value: str, sequence: int) -> dict[str, Any]:
        """The delta event of `delta_key` `key` carrying `value` as event number `sequence`."""
        field, item_id, position = key
        event = {"type": field, "sequence_number": sequence, "item_id": item_id}
        event["output_index"] = position
        if field == "response.output_text.delta":
            return event | {"content_index": 0, "delta": value, "logprobs": []}
        if field == "response.reasoning_summary_text.delta":
            return event | {"summary_index": 0, "delta": value}
        return event | {"delta": value}

    def took(self, index: int, kind: str, value: str) -> int:
        """Keep a delta written from its template (`delta_key`) for the `.done` events that
        repeat the item, as `_delta` does; returns its sequence number."""
        item = self._items[index]
        if kind == "text":
            item["content"][0]["text"] += value
        elif kind == "thinking":
            item["summary"][0]["text"] += value
        else:
            item["input" if item["type"] == "custom_tool_call" else "arguments"] += value
        self._seq += 1
        return self._seq - 1

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if isinstance(event, Start):
            self._resp = envelope(event.id, event.model, event.created or self._created, [])
            raw = {1: compact_json(self._resp)}  # the same envelope twice, serialised once
            return [
                Spliced(("started", kind), build, (self._next(), dict(self._resp)), raw)
                for kind, build in _STARTED.items()
            ]
        if isinstance(event, BlockStart):
            return self._start(event)
        if isinstance(event, Delta):
            return self._delta(event)
        if isinstance(event, BlockStop):
            return self._stop(event.index)
        if isinstance(event, End):
            status, details = responses_status(event.stop_reason)
            usage = responses_usage(event.usage or Usage(), event.reasoning_tokens)
            kind = "response.completed" if status == "completed" else "response.incomplete"
            if not self._resp:  # ended before it started
                resp = {"status": status, "incomplete_details": details, "output": self._output}
                return [self._event(kind, response=resp | {"usage": usage})]
            head = (self._resp["id"], self._resp["model"], self._resp["created_at"], status)
            holes = (self._next(), *head, details, self._output, usage)
            # the items as their `output_item.done` events wrote them
            output = "[" + ",".join(self._done) + "]"
            return [Spliced(("final", kind), _FINAL[kind], holes, {6: output})]
        error = event.error
        failed = {"code": _FAILED_CODES.get(error.type, "server_error"), "message": error.message}
        resp = self._resp or envelope("", "", self._created, [])  # failed before it started
        return [
            self._event("response.failed", response=resp | {"status": "failed", "error": failed})
        ]

    def _start(self, event: BlockStart) -> list[dict[str, Any]]:
        position = len(self._output) + len(self._items)
        item: dict[str, Any]
        if event.kind == "text":
            item = message_item(f"msg_{self._resp.get('id', '')}_{position}", "", "in_progress")
        elif event.kind == "tool":
            call_id = openai_id(event.call_id)
            item = {
                "id": f"fc_{call_id}",
                "call_id": call_id,
                "name": event.name,
                "status": "in_progress",
            }
            item |= (
                {"type": "custom_tool_call", "input": ""}
                if event.custom
                else {"type": "function_call", "arguments": ""}
            )
            if event.namespace:
                item["namespace"] = event.namespace
        else:
            item = {
                "id": f"rs_{self._resp.get('id', '')}_{position}",
                "type": "reasoning",
                "summary": [],
                "status": "in_progress",
            }
        item["_position"] = position
        self._items[event.index] = item
        if event.kind == "text":
            item_id = item["id"]
            return [
                Spliced(("message added",), _message_added, (self._next(), position, item_id)),
                Spliced(("part added",), _PART_ADDED, (self._next(), item_id, position, "")),
            ]
        added = {k: v for k, v in item.items() if k != "_position"}
        return [self._event("response.output_item.added", output_index=position, item=added)]

    def _delta(self, event: Delta) -> list[dict[str, Any]]:
        item = self._items.get(event.index)
        if item is None:
            return []
        ids = {"item_id": item["id"], "output_index": item["_position"]}
        if event.kind == "text":
            item["content"][0]["text"] += event.value
            return [
                self._event(
                    "response.output_text.delta",
                    **ids,
                    content_index=0,
                    delta=event.value,
                    logprobs=[],
                )
            ]
        if event.kind == "args":
            key = "input" if item["type"] == "custom_tool_call" else "arguments"
            item[key] += event.value
            kind = "custom_tool_call_input" if key == "input" else "function_call_arguments"
            return [self._event(f"response.{kind}.delta", **ids, delta=event.value)]
        if event.kind == "thinking":
            out = []
            if not item["summary"]:
                item["summary"].append({"type": "summary_text", "text": ""})
                out.append(
                    self._event(
                        "response.reasoning_summary_part.added",
                        **ids,
                        summary_index=0,
                        part=dict(item["summary"][0]),
                    )
                )
            item["summary"][0]["text"] += event.value
            out.append(
                self._event(
                    "response.reasoning_summary_text.delta",
                    **ids,
                    summary_index=0,
                    delta=event.value,
                )
            )
            return out
        reasoning = Reasoning("", event.origin, event.value, event.item_id)
        item["encrypted_content"] = encrypted_for(reasoning)
        return []

    def _stop(self, index: int) -> list[dict[str, Any]]:
        item = self._items.pop(index, None)
        if item is None:
            return []
        ids = {"item_id": item["id"], "output_index": item["_position"]}
        out: list[dict[str, Any]] = []
        if item["type"] == "message":
            holes = (item["id"], item["_position"], item["content"][0]["text"])
            out.append(Spliced(("text done",), _text_done, (self._next(), *holes)))
            out.append(Spliced(("part done",), _PART_DONE, (self._next(), *holes)))
        elif item["type"] == "function_call":
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    **ids,
                    arguments=item["arguments"],
                    name=item["name"],
                )
            )
        elif item["type"] == "custom_tool_call":
            out.append(
                self._event("response.custom_tool_call_input.done", **ids, input=item["input"])
            )
        elif item["summary"]:
            text = item["summary"][0]["text"]
            out.append(
                self._event(
                    "response.reasoning_summary_text.done", **ids, summary_index=0, text=text
                )
            )
            out.append(
                self._event(
                    "response.reasoning_summary_part.done",
                    **ids,
                    summary_index=0,
                    part=dict(item["summary"][0]),
                )
            )
        item["status"] = "completed"
        done = {k: v for k, v in item.items() if k != "_position"}
        self._output.append(done)
        self._done.append(compact_json(done))
        holes = (self._next(), item["_position"], done)
        out.append(Spliced(("item done",), _ITEM_DONE, holes, {2: self._done[-1]}))
        return out

    def finish(self) -> list[dict[str, Any]]:
        return []
