"""The Spectra error tree: every expected failure is a `SpectraError` with a stable code.

    SpectraError                      kind      surfaces map it once (api/console/cli/gateway)
    ├── NotFoundError                 not_found       404 / exit 3
    ├── ConflictError                 conflict        409 / exit 4
    ├── UnauthenticatedError          unauthenticated 401 / exit 5
    ├── ForbiddenError                forbidden       403 / exit 6
    ├── InvalidError                  invalid         422 / exit 2
    ├── RefusedError                  refused         402 / exit 7
    ├── RateLimitedError              rate_limited    429 / exit 8
    ├── UnavailableError              unavailable     503 / exit 9
    └── UpstreamError                 upstream        502 / exit 10
        (typed upstream failures live in `spectra.providers.errors`)

Domains subclass these in their own `errors.py` with a snake_case `code`. A message is
one human sentence that says what happened and, where it helps, what to do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorKind(StrEnum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    REFUSED = "refused"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    UPSTREAM = "upstream"


class SpectraError(Exception):
    """Base of every expected failure. `details` must never carry a secret."""

    code: ClassVar[str] = "error"
    kind: ClassVar[ErrorKind] = ErrorKind.INVALID

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class NotFoundError(SpectraError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND


class ConflictError(SpectraError):
    code = "conflict"
    kind = ErrorKind.CONFLICT


class UnauthenticatedError(SpectraError):
    code = "unauthenticated"
    kind = ErrorKind.UNAUTHENTICATED


class ForbiddenError(SpectraError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN


class InvalidError(SpectraError):
    code = "invalid"
    kind = ErrorKind.INVALID


class RefusedError(SpectraError):
    code = "refused"
    kind = ErrorKind.REFUSED


class RateLimitedError(SpectraError):
    code = "rate_limited"
    kind = ErrorKind.RATE_LIMITED


class UnavailableError(SpectraError):
    code = "unavailable"
    kind = ErrorKind.UNAVAILABLE


class UpstreamError(SpectraError):
    code = "upstream_error"
    kind = ErrorKind.UPSTREAM


class ConfigError(SpectraError):
    """Deployment configuration is wrong; start-up stops with this sentence."""

    code = "config_error"
    kind = ErrorKind.INVALID


class InvalidAmountError(InvalidError):
    code = "invalid_amount"


class AmountOutOfRangeError(InvalidAmountError):
    """An amount or a balance beyond the workspace-wide bounds (kit/money.py)."""

    code = "amount_out_of_range"


class InvalidCursorError(InvalidError):
    code = "invalid_cursor"
