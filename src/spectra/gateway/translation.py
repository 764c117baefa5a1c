"""Translated attempts: a request sent to an account of another protocol (providers/translate).

The scheduler picks an account of another protocol only when none of the caller's serves the
model; `selection.forward` then sends `translated_body` to `UPSTREAM_PATHS[...]`, classifies an
error on the upstream's protocol (so a 429 still fails over) and hands the caller the error in
its own shape (`translated_failure`). The answer comes back through `translated_answer` (a
whole body) or `SSEStreamTranslator` (a stream, event by event, in `streaming.relay_stream`).
Billing reads the upstream's usage in the upstream's protocol.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from spectra.pool.scheduler import Selection
from spectra.providers.errors import UpstreamFailure
from spectra.providers.translate import TranslationContext, translate_error, translate_request
from spectra.providers.translate import translate_response as _translate_response
from spectra.providers.types import WireProtocol

log = logging.getLogger(__name__)

UPSTREAM_PATHS: dict[WireProtocol, str] = {
    WireProtocol.ANTHROPIC_MESSAGES: "/v1/messages",
    WireProtocol.OPENAI_CHAT: "/v1/chat/completions",
    WireProtocol.OPENAI_RESPONSES: "/v1/responses",
}

# Headers describing the upstream's body, which a translated body no longer matches.
_BODY_HEADERS = frozenset({b"content-length", b"content-encoding"})


def translated_body(
    fields: dict[str, Any], protocol: WireProtocol, selection: Selection
) -> tuple[bytes, TranslationContext]:
    """The request body for the selection's protocol and the context to translate its answer.
    Raises `TranslationRefusedError` / `UnreadableBodyError` (400s in the caller's shape)."""
    upstream = WireProtocol(selection.upstream_protocol)
    out = translate_request(
        fields,
        client=protocol,
        upstream=upstream,
        model=selection.upstream_model,
        created=int(time.time()),
    )
    # No usage record column says which protocol served it yet: the log does.
    log.info(
        "translating %s -> %s for %s on account %s%s",
        protocol.value,
        upstream.value,
        selection.requested_model,
        selection.account_name,
        f" (degraded: {'; '.join(out.context.degraded)})" if out.context.degraded else "",
    )
    body = json.dumps(out.body, ensure_ascii=False, separators=(",", ":")).encode()
    return body, out.context


def translated_failure(failure: UpstreamFailure, context: TranslationContext) -> UpstreamFailure:
    """The same classified failure with its status and body in the caller's protocol."""
    status, body = translate_error(failure.status or 502, failure.body, context)
    return UpstreamFailure(
        failure.type,
        failure.message,
        status=status,
        retry_after=failure.retry_after,
        provider_message=failure.provider_message,
        body=json.dumps(body, separators=(",", ":")).encode(),
        headers=(
            *(
                (k, v)
                for k, v in failure.headers
                if k.lower() not in ("content-length", "content-encoding", "content-type")
            ),
            ("content-type", "application/json"),
        ),
        phase=failure.phase,
    )


def translated_answer(raw: bytes, context: TranslationContext) -> bytes:
    """A whole upstream answer (decoded) in the caller's protocol. Raises
    `UnreadableAnswerError` (502) when it is not the upstream protocol's shape."""
    try:
        parsed: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    out = _translate_response(parsed if isinstance(parsed, dict) else {}, context)
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()


def body_headers_dropped(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Response headers without those describing the upstream's own body bytes."""
    return [(k, v) for k, v in headers if k not in _BODY_HEADERS]
