"""The error vocabularies of Google (Gemini, Vertex) and AWS (Bedrock) read as the signals
`errors._decide` knows, so cooling, failover and the account state machine treat them as they
treat Anthropic's and OpenAI's.

Google: `{"error": {"code", "message", "status", "details": [{"reason"}]}}`; the `status`
name (and an `API_KEY_INVALID` reason, which comes with a 400) decides. AWS: the exception
name in the `x-amzn-ErrorType` header (or `__type` in the body), e.g. `ThrottlingException`.
Two documented message rules, as for Anthropic: Bedrock's `ValidationException` "Input is too
long" and Gemini's "exceeds the maximum number of tokens" are context overflows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

AWS_ANTHROPIC_TYPES: dict[str, str] = {
    "throttlingexception": "rate_limit_error",
    "servicequotaexceededexception": "rate_limit_error",
    "serviceunavailableexception": "overloaded_error",
    "modelnotreadyexception": "overloaded_error",
    "accessdeniedexception": "permission_error",
    "unrecognizedclientexception": "authentication_error",
    "invalidsignatureexception": "authentication_error",
    "expiredtokenexception": "authentication_error",
    "incompletesignatureexception": "authentication_error",
    "modeltimeoutexception": "timeout_error",
    "validationexception": "invalid_request_error",
    "resourcenotfoundexception": "not_found_error",
    "internalserverexception": "api_error",
    "modelstreamerrorexception": "api_error",
    "modelerrorexception": "api_error",
}
"""AWS exception names (lower-cased) as Anthropic error types."""
GOOGLE_SIGNALS: dict[str, str] = {
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "UNAVAILABLE": "overloaded_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "DEADLINE_EXCEEDED": "timeout_error",
    "API_KEY_INVALID": "invalid_api_key",
}
_CONTEXT_MESSAGES = ("input is too long", "exceeds the maximum number of tokens")


def aws_error_name(headers: Iterable[tuple[str, str]], obj: Any) -> str | None:
    """The AWS exception name of an error response, without its namespace or URI suffix."""
    raw = next((v for k, v in headers if k.lower() == "x-amzn-errortype"), None)
    if raw is None and isinstance(obj, dict) and isinstance(obj.get("__type"), str):
        raw = obj["__type"]
    if not raw:
        return None
    return raw.split(":", 1)[0].rsplit("#", 1)[-1]


def foreign_signal(headers: Iterable[tuple[str, str]], obj: Any) -> tuple[str | None, str]:
    """(error type in Anthropic/OpenAI vocabulary, message) of a Google or AWS error body;
    (None, "") when the body is neither."""
    name = aws_error_name(headers, obj)
    if name is not None:
        message = (obj.get("message") or obj.get("Message")) if isinstance(obj, dict) else None
        text = message if isinstance(message, str) else ""
        kind = AWS_ANTHROPIC_TYPES.get(name.lower())
        return _context(kind, text), text
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("status"), str):
        return None, ""
    google_text = str(err.get("message") or "")
    reasons = [d.get("reason") for d in err.get("details") or [] if isinstance(d, dict)]
    kind = next((GOOGLE_SIGNALS[r] for r in reasons if r in GOOGLE_SIGNALS), None)
    kind = kind or GOOGLE_SIGNALS.get(err["status"])
    return _context(kind, google_text), google_text


def _context(kind: str | None, message: str) -> str | None:
    lowered = message.lower()
    if kind in (None, "invalid_request_error") and any(m in lowered for m in _CONTEXT_MESSAGES):
        return "context_length_exceeded"
    return kind
