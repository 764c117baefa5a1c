"""Refusals of the access decision: each a stable reason code and one human sentence."""

from __future__ import annotations

from spectra.errors import ForbiddenError, NotFoundError, RefusedError


class ModelNotInKeyScopeError(ForbiddenError):
    code = "model_not_in_key_scope"


class ModelNotInPackageError(ForbiddenError):
    code = "model_not_in_package"


class NoFundingSourceError(ForbiddenError):
    code = "no_funding_source"


class PackageAllowanceExhaustedError(RefusedError):
    code = "package_allowance_exhausted"


class WalletEmptyError(RefusedError):
    code = "wallet_empty"


class RequestTooCostlyError(RefusedError):
    code = "request_cost_over_limit"


class UserNotActiveError(ForbiddenError):
    code = "user_suspended"


class PolicyUserNotFoundError(NotFoundError):
    code = "user_not_found"


class PolicyKeyNotFoundError(NotFoundError):
    code = "key_not_found"
