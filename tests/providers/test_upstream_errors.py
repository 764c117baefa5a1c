"""Classification of every upstream failure type, in one place, from status/body/headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from tests.fakes.upstream import ERROR_KINDS, error_response

from spectra.errors import UpstreamError
from spectra.kit import clock
from spectra.providers.errors import (
    AccountEffect,
    FailureType,
    UpstreamFailure,
    classify_exception,
    classify_response,
    classify_stream_error,
    parse_retry_after,
)

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> object:
    clock.freeze(NOW)
    yield None
    clock.unfreeze()


def _anthropic(err_type: str, message: str = "x") -> bytes:
    return json.dumps({"type": "error", "error": {"type": err_type, "message": message}}).encode()


def _openai(err_type: str | None, code: str | None, message: str = "x") -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    ).encode()


FAKE_KIND_TO_TYPE = {
    "rate_limited": FailureType.RATE_LIMITED,
    "overloaded": FailureType.OVERLOADED,
    "auth_failed": FailureType.AUTH_FAILED,
    "permission_denied": FailureType.AUTH_FAILED,
    "invalid_request": FailureType.INVALID_REQUEST,
    "context_too_long": FailureType.CONTEXT_TOO_LONG,
    "server_error": FailureType.SERVER_ERROR,
    "quota_exhausted": FailureType.QUOTA_EXHAUSTED,
}


@pytest.mark.parametrize("kind", ERROR_KINDS)
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_every_fake_error_is_classified(kind: str, provider: str) -> None:
    response = error_response(kind, anthropic=provider == "anthropic")
    assert isinstance(response.body, bytes)
    failure = classify_response(
        provider, response.status, list(response.headers.items()), response.body
    )
    assert failure is not None
    assert failure.type is FAKE_KIND_TO_TYPE[kind]
    assert failure.status == response.status
    assert failure.body == response.body
    assert isinstance(failure, UpstreamError)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, _anthropic("rate_limit_error"), FailureType.RATE_LIMITED),
        (529, _anthropic("overloaded_error"), FailureType.OVERLOADED),
        (200, _anthropic("overloaded_error"), None),
        (500, _anthropic("overloaded_error"), FailureType.OVERLOADED),
        (401, _anthropic("authentication_error"), FailureType.AUTH_FAILED),
        (403, _anthropic("permission_error"), FailureType.AUTH_FAILED),
        (402, _anthropic("billing_error"), FailureType.QUOTA_EXHAUSTED),
        (
            400,
            _anthropic("invalid_request_error", "max_tokens: must be positive"),
            FailureType.INVALID_REQUEST,
        ),
        (404, _anthropic("not_found_error", "model: claude-x"), FailureType.INVALID_REQUEST),
        (413, _anthropic("request_too_large"), FailureType.CONTEXT_TOO_LONG),
        (
            400,
            _anthropic("invalid_request_error", "prompt is too long: 1 tokens > 0"),
            FailureType.CONTEXT_TOO_LONG,
        ),
        (
            400,
            _anthropic("invalid_request_error", "Your credit balance is too low"),
            FailureType.QUOTA_EXHAUSTED,
        ),
        (500, _anthropic("api_error"), FailureType.SERVER_ERROR),
        (504, _anthropic("timeout_error"), FailureType.TIMEOUT),
        (429, _openai("insufficient_quota", "insufficient_quota"), FailureType.QUOTA_EXHAUSTED),
        (429, _openai("requests", "rate_limit_exceeded"), FailureType.RATE_LIMITED),
        (429, _openai("tokens", None), FailureType.RATE_LIMITED),
        (
            400,
            _openai("invalid_request_error", "context_length_exceeded"),
            FailureType.CONTEXT_TOO_LONG,
        ),
        (401, _openai("invalid_request_error", "invalid_api_key"), FailureType.AUTH_FAILED),
        (
            403,
            _openai("invalid_request_error", "unsupported_country_region_territory"),
            FailureType.AUTH_FAILED,
        ),
        (404, _openai("invalid_request_error", "model_not_found"), FailureType.INVALID_REQUEST),
        (
            400,
            _openai("invalid_request_error", None, "prompt is too long"),
            FailureType.INVALID_REQUEST,
        ),
        (503, _openai("server_error", None), FailureType.OVERLOADED),
        (502, b"<html>Bad Gateway</html>", FailureType.SERVER_ERROR),
        (408, b"", FailureType.TIMEOUT),
        (
            422,
            b'{"object":"error","message":"bad","type":"BadRequestError","code":422}',
            FailureType.INVALID_REQUEST,
        ),
        (400, b'{"error": "plain string error"}', FailureType.INVALID_REQUEST),
    ],
)
def test_classification_table(status: int, body: bytes, expected: FailureType | None) -> None:
    failure = classify_response("anthropic", status, [], body)
    assert (failure.type if failure else None) is expected


def test_message_text_does_not_decide_for_openai_shaped_bodies() -> None:
    failure = classify_response(
        "openai", 400, [], _openai("invalid_request_error", None, "Your credit balance is too low")
    )
    # Only Anthropic's envelope signals by message; OpenAI sets a `code`.
    assert failure is not None
    assert failure.type is FailureType.INVALID_REQUEST


@pytest.mark.parametrize(
    ("failure_type", "retryable", "effect"),
    [
        (FailureType.RATE_LIMITED, True, AccountEffect.COOL),
        (FailureType.OVERLOADED, True, AccountEffect.NONE),
        (FailureType.AUTH_FAILED, True, AccountEffect.NEEDS_ATTENTION),
        (FailureType.QUOTA_EXHAUSTED, True, AccountEffect.NEEDS_ATTENTION),
        (FailureType.INVALID_REQUEST, False, AccountEffect.NONE),
        (FailureType.CONTEXT_TOO_LONG, False, AccountEffect.NONE),
        (FailureType.SERVER_ERROR, True, AccountEffect.FAILURE),
        (FailureType.TIMEOUT, True, AccountEffect.FAILURE),
        (FailureType.CONNECT_ERROR, True, AccountEffect.FAILURE),
        (FailureType.STREAM_BROKEN, False, AccountEffect.FAILURE),
    ],
)
def test_each_type_states_retry_and_account_effect(
    failure_type: FailureType, retryable: bool, effect: AccountEffect
) -> None:
    failure = UpstreamFailure(failure_type, "m")
    assert failure.retryable_elsewhere is retryable
    assert failure.account_effect is effect


def test_rate_limited_cools_for_retry_after_or_the_default() -> None:
    hinted = classify_response("openai", 429, [("Retry-After", "7")], b"")
    plain = classify_response("openai", 429, [], b"")
    assert hinted is not None
    assert plain is not None
    assert hinted.cool_seconds == 7.0
    assert plain.cool_seconds == 30.0
    server = classify_response("openai", 500, [("retry-after", "9")], b"")
    assert server is not None
    assert server.cool_seconds == 0.0


def test_retry_after_seconds_ms_and_http_date(frozen_clock: object) -> None:
    assert parse_retry_after([("retry-after", "12")]) == 12.0
    assert parse_retry_after([("retry-after", "1.5")]) == 1.5
    assert parse_retry_after([("retry-after-ms", "2500"), ("retry-after", "9")]) == 2.5
    date = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after([("Retry-After", date)]) == 90.0
    past = format_datetime(NOW - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after([("Retry-After", past)]) == 0.0
    assert parse_retry_after([("retry-after", "soon")]) is None
    assert parse_retry_after([]) is None
    assert parse_retry_after([("retry-after", "99999999")]) == 24 * 3600.0


def test_anthropic_ratelimit_reset_prefers_the_exhausted_limit(frozen_clock: object) -> None:
    headers = [
        ("anthropic-ratelimit-requests-remaining", "40"),
        (
            "anthropic-ratelimit-requests-reset",
            (NOW + timedelta(seconds=5)).isoformat().replace("+00:00", "Z"),
        ),
        ("anthropic-ratelimit-input-tokens-remaining", "0"),
        ("anthropic-ratelimit-input-tokens-reset", (NOW + timedelta(seconds=42)).isoformat()),
    ]
    assert parse_retry_after(headers) == 42.0
    assert parse_retry_after(headers[:2]) == 5.0


def test_openai_ratelimit_reset_durations() -> None:
    headers = [("x-ratelimit-reset-requests", "1s"), ("x-ratelimit-reset-tokens", "6m0.5s")]
    assert parse_retry_after(headers) == 360.5
    assert parse_retry_after([("x-ratelimit-reset-tokens", "20ms")]) == pytest.approx(0.02)
    assert parse_retry_after([("x-ratelimit-reset-tokens", "bogus")]) is None


def test_provider_message_is_short_and_has_no_key() -> None:
    body = _openai(
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-proj-abcdef1234567890. " + "x" * 500,
    )
    failure = classify_response("openai", 401, [], body)
    assert failure is not None
    assert "abcdef" not in failure.provider_message
    assert "abcdef" not in str(failure)
    assert len(failure.provider_message) <= 200
    assert failure.body == body  # the raw body is kept for pass-through


def test_success_is_not_a_failure() -> None:
    assert classify_response("openai", 200, [], b"{}") is None
    assert classify_response("openai", 304, [], b"") is None


def test_classify_exception_before_and_after_headers() -> None:
    assert classify_exception(ConnectionRefusedError()).type is FailureType.CONNECT_ERROR
    assert classify_exception(ConnectionResetError()).type is FailureType.CONNECT_ERROR
    assert classify_exception(aiohttp.ServerDisconnectedError()).type is FailureType.CONNECT_ERROR
    broken = classify_exception(aiohttp.ClientPayloadError("cut"), after_headers=True)
    assert broken.type is FailureType.STREAM_BROKEN
    first = classify_exception(TimeoutError())
    assert (first.type, first.phase) == (FailureType.TIMEOUT, "first_byte")
    idle = classify_exception(TimeoutError(), after_headers=True)
    assert (idle.type, idle.phase) == (FailureType.TIMEOUT, "idle")
    connect = classify_exception(aiohttp.ConnectionTimeoutError())
    assert (connect.type, connect.phase) == (FailureType.TIMEOUT, "connect")
    already = UpstreamFailure(FailureType.SERVER_ERROR, "m")
    assert classify_exception(already) is already


def test_stream_error_events() -> None:
    overloaded = classify_stream_error(
        "anthropic",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert overloaded.type is FailureType.OVERLOADED
    assert overloaded.provider_message == "Overloaded"
    unknown = classify_stream_error("openai", {"error": {"message": "???"}})
    assert unknown.type is FailureType.STREAM_BROKEN
    assert (
        classify_stream_error("openai", {"error": {"code": "rate_limit_exceeded"}}).type
        is FailureType.RATE_LIMITED
    )
