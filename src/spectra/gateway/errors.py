"""Refusals the gateway decides itself (the domains' refusals keep their own codes)."""

from __future__ import annotations

from spectra.errors import (
    InvalidError,
    NotFoundError,
    RateLimitedError,
    UnauthenticatedError,
    UnavailableError,
)


class MissingApiKeyError(UnauthenticatedError):
    code = "missing_api_key"


class RequestTooLargeError(InvalidError):
    code = "request_too_large"


class UnsupportedEncodingError(InvalidError):
    code = "unsupported_content_encoding"


class InvalidRequestBodyError(InvalidError):
    code = "invalid_request_body"


class ModelMissingError(InvalidError):
    code = "model_required"


class RateLimitExceededError(RateLimitedError):
    code = "rate_limit_exceeded"


class ConcurrencyLimitExceededError(RateLimitedError):
    code = "concurrency_limit_exceeded"


class ShuttingDownError(UnavailableError):
    code = "shutting_down"


class GatewayNotReadyError(UnavailableError):
    code = "gateway_not_ready"


class WebSocketNotSupportedError(InvalidError):
    code = "websocket_not_supported"


class EndpointNotFoundError(NotFoundError):
    code = "endpoint_not_found"


class SettlementBacklogError(UnavailableError):
    """Finished requests are waiting to be written faster than the database takes them: new
    requests wait `SPECTRA_COMMIT_BACKLOG_WAIT`, then get this (503, retryable)."""

    code = "settlement_backlog"


class UnboundedCostError(InvalidError):
    """A request field whose cost Spectra cannot bound before forwarding (Responses
    `background`: it runs on after the answer, and its usage never comes back through
    Spectra), so no hold could cover it (docs/money.md)."""

    code = "unbounded_cost"
