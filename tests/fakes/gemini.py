"""A fake Gemini API (Google AI Studio) upstream, in the documented wire format.

`gemini_body` / `gemini_events` answer a `Reply` as `generateContent` /
`streamGenerateContent?alt=sse` do: camelCase GenerateContentResponse chunks, each streamed
one a whole response object, the last with `finishReason` and `usageMetadata` (whose
`promptTokenCount` includes `cachedContentTokenCount`). `FakeGemini` serves them on
`/v1beta/models/{model}:...` (and `/v1/...`), checks `x-goog-api-key` (or `?key=`), and answers errors in
Google's `{"error": {"code", "message", "status"}}` shape.

Thought signatures: every `functionCall` part it answers carries a `thoughtSignature` of its
own, and, as Gemini 3 does, it refuses a request whose model turn holds function calls without
one of the signatures it issued (or the documented `skip_thought_signature_validator`) on the
first call part: a client or gateway that drops or rewrites them fails here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from .clouds import LocalFake
from .upstream import Fail, Reply, _split

JsonDict = dict[str, Any]
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash")

SKIP_SIGNATURE = "skip_thought_signature_validator"
MISSING_SIGNATURE = (
    "Function call is missing a thought_signature in functionCall parts. This is required for "
    "tools to work correctly, and missing thought_signature may lead to degraded model "
    "performance."
)


GEMINI_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limited": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    "overloaded": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "auth_failed": (400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."),
    "permission_denied": (403, "PERMISSION_DENIED", "Permission denied on resource project."),
    "invalid_request": (400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: required"),
    "context_too_long": (
        400,
        "INVALID_ARGUMENT",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    ),
    "server_error": (500, "INTERNAL", "An internal error has occurred."),
    "missing_signature": (400, "INVALID_ARGUMENT", MISSING_SIGNATURE),
    "quota_exhausted": (
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
}


def gemini_usage(reply: Reply, thoughts: int = 0) -> JsonDict:
    prompt = reply.input_tokens + reply.cache_read_tokens
    usage: JsonDict = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": reply.output_tokens - thoughts,
        "totalTokenCount": prompt + reply.output_tokens,
    }
    if reply.cache_read_tokens:
        usage["cachedContentTokenCount"] = reply.cache_read_tokens
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def thought_signature(call_id: str) -> str:
    """The opaque signature the fake gives the call `call_id` (base64, like Google's)."""
    return base64.b64encode(f"fake-thought:{call_id}".encode()).decode()


def _call_part(reply: Reply) -> JsonDict:
    assert reply.tool_call is not None
    call = reply.tool_call
    return {
        "functionCall": {"id": call.call_id, "name": call.name, "args": call.arguments},
        "thoughtSignature": thought_signature(call.call_id),
    }


def signatures_ok(contents: list[Any], issued: set[str]) -> bool:
    """Whether each model turn with function calls carries, on its first call part, a
    signature the fake issued (or the documented skip value)."""
    for content in contents:
        if not isinstance(content, dict) or content.get("role") != "model":
            continue
        calls = [p for p in content.get("parts") or [] if "functionCall" in p]
        if calls and calls[0].get("thoughtSignature") not in issued | {SKIP_SIGNATURE}:
            return False
    return True


def _chunk(parts: list[JsonDict], model: str) -> JsonDict:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
        "modelVersion": model,
        "responseId": "resp_fake01",
    }


def gemini_body(reply: Reply, model: str) -> bytes:
    parts: list[JsonDict] = [{"text": reply.text}] if reply.text else []
    if reply.tool_call is not None:
        parts.append(_call_part(reply))
    body = _chunk(parts, reply.model or model)
    body["candidates"][0]["finishReason"] = "STOP"
    body["usageMetadata"] = gemini_usage(reply)
    return json.dumps(body).encode()


def gemini_events(reply: Reply, model: str) -> list[bytes]:
    served = reply.model or model
    chunks: list[JsonDict] = [
        _chunk([{"text": piece}], served) for piece in _split(reply.text, reply.pieces) if piece
    ]
    if reply.tool_call is not None:
        chunks.append(_chunk([_call_part(reply)], served))
    if not chunks:
        chunks.append(_chunk([{"text": ""}], served))
    chunks[-1]["candidates"][0]["finishReason"] = "STOP"
    chunks[-1]["usageMetadata"] = gemini_usage(reply)
    return [f"data: {json.dumps(c, separators=(',', ':'))}\r\n\r\n".encode() for c in chunks]


def gemini_error(kind: str) -> web.Response:
    status, name, message = GEMINI_ERRORS[kind]
    error: JsonDict = {"code": status, "message": message, "status": name}
    if kind == "auth_failed":
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ]
    body = {"error": error}
    return web.json_response(body, status=status)


class FakeGemini(LocalFake):
    """The Gemini API for one API key. Scripted like `FakeUpstream`: each generation takes the
    next behaviour (`Reply` or `Fail`), else the default reply; `requests` keeps (path, query,
    headers, body) of each."""

    def __init__(self, *, api_key: str = "AIza-fake-gemini-key", default: Reply | None = None):
        super().__init__(default)
        self.api_key = api_key
        self.signatures: set[str] = set()
        """The thought signatures it has handed out."""

    def app(self) -> web.Application:
        app = web.Application()
        for version in ("v1beta", "v1"):
            app.router.add_post(f"/{version}/models/{{call}}", self._generate)
            app.router.add_get(f"/{version}/models", self._models)
        return app

    def _authorised(self, request: web.Request) -> bool:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        return key == self.api_key

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return gemini_error("auth_failed")
        models = [
            {
                "name": f"models/{m}",
                "displayName": m,
                "supportedGenerationMethods": ["generateContent"],
            }
            for m in GEMINI_MODELS
        ]
        return web.json_response({"models": models})

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append((request.path, request.query_string, dict(request.headers), body))
        if not self._authorised(request):
            return gemini_error("auth_failed")
        return await answer(self, self.signatures, request, body)


async def answer(
    fake: LocalFake, signatures: set[str], request: web.Request, body: JsonDict
) -> web.StreamResponse:
    """Answer an authorised `{model}:{method}` call (the route's `call`) with the fake's next
    behaviour, as the Gemini API and Vertex AI's Google publisher models both do."""
    model, _, method = request.match_info["call"].partition(":")
    if method not in ("generateContent", "streamGenerateContent", "countTokens"):
        return gemini_error("invalid_request")
    if method == "countTokens":
        return web.json_response({"totalTokens": len(json.dumps(body)) // 4})
    if not isinstance(body.get("contents"), list) or not body["contents"]:
        return gemini_error("invalid_request")
    if not signatures_ok(body["contents"], signatures):
        return gemini_error("missing_signature")
    behaviour = fake.next()
    if isinstance(behaviour, Fail):
        return gemini_error(behaviour.kind)
    if behaviour.tool_call is not None:
        signatures.add(thought_signature(behaviour.tool_call.call_id))
    if method == "generateContent":
        return web.Response(body=gemini_body(behaviour, model), content_type="application/json")
    if request.query.get("alt") != "sse":
        return gemini_error("invalid_request")
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for event in gemini_events(behaviour, model):
        await response.write(event)
    await response.write_eof()
    return response
