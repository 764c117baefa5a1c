"""The typed upstream error taxonomy, decided in one place.

    UpstreamError (spectra.errors)
    └── UpstreamFailure               .type: FailureType, .rule: what the gateway and pool do
          rate_limited     429 / rate_limit_error / rate_limit_exceeded   retry elsewhere, cool
          overloaded       529, 503 / overloaded_error                    retry elsewhere
          auth_failed      401, 403 / authentication_error, permission_error, invalid_api_key
          quota_exhausted  429 insufficient_quota, 402 / billing_error, credit balance too low
          invalid_request  other 4xx                                      pass through
          context_too_long context_length_exceeded, 413, "prompt is too long"  pass through
          server_error     other 5xx
          timeout          408, 504 timeout_error, connect/first-byte/idle timeouts
          connect_error    refused, DNS, TLS, reset before the response headers
          stream_broken    the connection failed after the response headers

The type comes from the status code and the provider's error `type`/`code` fields (Google's
`status` and AWS's exception name, read by `cloud_errors`), never from message text, with
documented exceptions: Anthropic signals "prompt is too long" and "credit balance is too
low" only in the message of a plain `invalid_request_error`, and `cloud_errors` names two.
Foreign exceptions are translated by `classify_exception`, always raised `from exc`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import aiohttp

from spectra.errors import UpstreamError

from .cloud_errors import foreign_signal
from .retry_after import parse_retry_after as parse_retry_after


class FailureType(StrEnum):
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    AUTH_FAILED = "auth_failed"
    QUOTA_EXHAUSTED = "quota_exhausted"
    INVALID_REQUEST = "invalid_request"
    CONTEXT_TOO_LONG = "context_too_long"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    STREAM_BROKEN = "stream_broken"


class AccountEffect(StrEnum):
    """What the failure says about the upstream account that produced it."""

    NONE = "none"
    """The request or the provider is at fault, not the account."""
    COOL = "cool"
    """Rest the account for `UpstreamFailure.cool_seconds`, then use it again."""
    FAILURE = "failure"
    """Count toward the account's consecutive failures (health)."""
    NEEDS_ATTENTION = "needs_attention"
    """An admin must act (bad key, no credit); stop using the account."""


@dataclass(frozen=True, slots=True)
class FailureRule:
    """`retryable_elsewhere`: another account may be tried, provided nothing was relayed yet."""

    retryable_elsewhere: bool
    account_effect: AccountEffect
    default_cool_seconds: float = 0.0


RULES: dict[FailureType, FailureRule] = {
    FailureType.RATE_LIMITED: FailureRule(True, AccountEffect.COOL, 30.0),
    # Overload is the provider's state, not the account's: try another, punish none.
    FailureType.OVERLOADED: FailureRule(True, AccountEffect.NONE),
    FailureType.AUTH_FAILED: FailureRule(True, AccountEffect.NEEDS_ATTENTION),
    FailureType.QUOTA_EXHAUSTED: FailureRule(True, AccountEffect.NEEDS_ATTENTION),
    FailureType.INVALID_REQUEST: FailureRule(False, AccountEffect.NONE),
    FailureType.CONTEXT_TOO_LONG: FailureRule(False, AccountEffect.NONE),
    FailureType.SERVER_ERROR: FailureRule(True, AccountEffect.FAILURE),
    FailureType.TIMEOUT: FailureRule(True, AccountEffect.FAILURE),
    FailureType.CONNECT_ERROR: FailureRule(True, AccountEffect.FAILURE),
    # Bytes already reached the caller; the gateway cannot replay the stream elsewhere.
    FailureType.STREAM_BROKEN: FailureRule(False, AccountEffect.FAILURE),
}

_MAX_MESSAGE = 200
_SECRET_RE = re.compile(r"\b(sk|pk|rk|key|sess)-[A-Za-z0-9_\-*.]{4,}", re.IGNORECASE)


class UpstreamFailure(UpstreamError):  # noqa: N818 - the taxonomy carrier, named by the issue
    """A classified upstream failure.

    `body` and `headers` are the upstream's own error response (empty for transport
    failures) so the gateway can pass it through unchanged when no failover applies.
    """

    code: ClassVar[str] = "upstream_failure"

    def __init__(
        self,
        failure_type: FailureType,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        provider_message: str = "",
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
        phase: str | None = None,
    ) -> None:
        super().__init__(message, type=failure_type.value, status=status, phase=phase)
        self.type = failure_type
        self.status = status
        self.retry_after = retry_after
        self.provider_message = provider_message
        self.body = body
        self.headers = headers
        self.phase = phase

    @property
    def rule(self) -> FailureRule:
        return RULES[self.type]

    @property
    def retryable_elsewhere(self) -> bool:
        return self.rule.retryable_elsewhere

    @property
    def account_effect(self) -> AccountEffect:
        return self.rule.account_effect

    @property
    def cool_seconds(self) -> float:
        """How long to rest the account: the upstream's hint, else the type's default."""
        if self.account_effect is not AccountEffect.COOL:
            return 0.0
        if self.retry_after is not None:
            return self.retry_after
        return self.rule.default_cool_seconds

    def __repr__(self) -> str:
        return f"UpstreamFailure({self.type.value}, status={self.status}, phase={self.phase})"


def classify_response(
    provider: str,
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
) -> UpstreamFailure | None:
    """Classify an upstream HTTP response; None when it is not a failure (status < 400)."""
    if status < 400:
        return None
    pairs = _pairs(headers)
    err_type, err_code, message = _error_fields(body)
    if err_type is None and err_code is None:
        err_type = _foreign_type(pairs, body)
    failure_type = _decide(status, err_type, err_code, message)
    retry_after = parse_retry_after(pairs)
    provider_message = _provider_message(body)
    summary = f"The {provider} upstream answered {status} ({failure_type.value})"
    if provider_message:
        summary += f": {provider_message}"
    return UpstreamFailure(
        failure_type,
        summary,
        status=status,
        retry_after=retry_after,
        provider_message=provider_message,
        body=body,
        headers=tuple(pairs),
    )


def classify_stream_error(provider: str, payload: Mapping[str, Any] | None) -> UpstreamFailure:
    """Classify an error event received inside a 200 stream (e.g. Anthropic `event: error`)."""
    raw = json.dumps(payload or {}, separators=(",", ":")).encode()
    err_type, err_code, message = _error_fields(raw)
    failure_type = _decide(None, err_type, err_code, message)
    if failure_type is FailureType.SERVER_ERROR and err_type is None and err_code is None:
        failure_type = FailureType.STREAM_BROKEN
    provider_message = _provider_message(raw)
    return UpstreamFailure(
        failure_type,
        f"The {provider} upstream sent an error inside the stream ({failure_type.value})",
        provider_message=provider_message,
        body=raw,
        phase="stream",
    )


def classify_exception(exc: BaseException, *, after_headers: bool = False) -> UpstreamFailure:
    """Translate a transport exception: before the response headers it is a timeout or a
    connect error, after them a broken stream (or an idle timeout)."""
    if isinstance(exc, UpstreamFailure):
        return exc
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        phase = "idle" if after_headers else "first_byte"
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            phase = "connect"
        return UpstreamFailure(
            FailureType.TIMEOUT,
            f"The upstream did not answer in time ({phase} timeout)",
            phase=phase,
        )
    if after_headers:
        return UpstreamFailure(
            FailureType.STREAM_BROKEN,
            f"The upstream connection broke during the response ({type(exc).__name__})",
            phase="body",
        )
    if isinstance(exc, aiohttp.ClientResponseError):
        # The upstream answered something HTTP cannot parse (a header flood, a huge header):
        # its text and the account's URL stay out of the member's error.
        return UpstreamFailure(
            FailureType.CONNECT_ERROR,
            "The upstream's response could not be read (malformed or oversized headers)",
            phase="connect",
        )
    return UpstreamFailure(
        FailureType.CONNECT_ERROR,
        f"Could not reach the upstream ({type(exc).__name__}: {_clean(str(exc))})",
        phase="connect",
    )


def _decide(
    status: int | None, err_type: str | None, err_code: str | None, message: str
) -> FailureType:
    signals = {err_type, err_code}
    if signals & {"insufficient_quota", "billing_error", "billing_hard_limit_reached"}:
        return FailureType.QUOTA_EXHAUSTED
    if signals & {"context_length_exceeded", "request_too_large", "string_above_max_length"}:
        return FailureType.CONTEXT_TOO_LONG
    if err_type == "invalid_request_error" and status in (400, 413, None):
        lowered = message.lower()
        if lowered.startswith("prompt is too long"):
            return FailureType.CONTEXT_TOO_LONG
        if "credit balance is too low" in lowered:
            return FailureType.QUOTA_EXHAUSTED
    if "overloaded_error" in signals:
        return FailureType.OVERLOADED
    if signals & {"rate_limit_error", "rate_limit_exceeded"}:
        return FailureType.RATE_LIMITED
    if signals & {"authentication_error", "permission_error", "invalid_api_key"}:
        return FailureType.AUTH_FAILED
    if "timeout_error" in signals:
        return FailureType.TIMEOUT
    if status is None:
        return FailureType.SERVER_ERROR
    if status in (401, 403):
        return FailureType.AUTH_FAILED
    if status == 402:
        return FailureType.QUOTA_EXHAUSTED
    if status in (408, 504):
        return FailureType.TIMEOUT
    if status == 413:
        return FailureType.CONTEXT_TOO_LONG
    if status == 429:
        return FailureType.RATE_LIMITED
    if status in (503, 529):
        return FailureType.OVERLOADED
    if status >= 500:
        return FailureType.SERVER_ERROR
    return FailureType.INVALID_REQUEST


def _error_fields(body: bytes) -> tuple[str | None, str | None, str]:
    """(type, code, message) from an Anthropic, OpenAI or OpenAI-compatible error body.

    The message is returned only from Anthropic's envelope (`{"type": "error", ...}`), the
    one shape whose decision may rest on it; the others signal in `type`/`code`.
    """
    try:
        obj = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None, None, ""
    if not isinstance(obj, dict):
        return None, None, ""
    err = obj.get("error")
    if isinstance(err, str):
        return None, None, ""
    if not isinstance(err, dict):
        err = obj  # vLLM-style: {"object": "error", "message", "type", "code"}
    err_type = err.get("type")
    err_code = err.get("code")
    message = err.get("message") if obj.get("type") == "error" else None
    return (
        err_type if isinstance(err_type, str) else None,
        err_code if isinstance(err_code, str) else None,
        message if isinstance(message, str) else "",
    )


def _foreign_type(pairs: list[tuple[str, str]], body: bytes) -> str | None:
    """A Google or AWS error's type, in the vocabulary `_decide` reads (`cloud_errors`)."""
    try:
        obj = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        obj = None
    return foreign_signal(pairs, obj)[0]


def _provider_message(body: bytes) -> str:
    """The upstream's human message, for logs and refusals (shortened, keys masked)."""
    try:
        obj = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return _clean(body[:_MAX_MESSAGE].decode("utf-8", "replace"))
    if not isinstance(obj, dict):
        return ""
    err = obj.get("error")
    if isinstance(err, str):
        return _clean(err)
    source = err if isinstance(err, dict) else obj
    message = source.get("message")
    return _clean(message) if isinstance(message, str) else ""


def _clean(message: str) -> str:
    message = _SECRET_RE.sub(lambda m: m.group(1) + "-…", " ".join(message.split()))
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return message


def _pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]
