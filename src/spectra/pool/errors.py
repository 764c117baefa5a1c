"""Account pool errors."""

from __future__ import annotations

from spectra.errors import ConflictError, InvalidError, NotFoundError, UnavailableError


class AccountNotFoundError(NotFoundError):
    code = "pool_account_not_found"


class AccountNameTakenError(ConflictError):
    code = "pool_account_name_taken"


class AccountInvalidError(InvalidError):
    code = "pool_account_invalid"


class CredentialMissingError(InvalidError):
    code = "pool_credential_missing"


class AccountDisabledError(ConflictError):
    code = "pool_account_disabled"


class NoAccountAvailableError(UnavailableError):
    """No account in the pool can serve this request now; the gateway refuses with this sentence."""

    code = "no_account_available"


class ModelNotServedError(NotFoundError):
    """No account in the pool is configured to serve this model in the caller's protocol at all:
    not a capacity problem (no alert, no retry), so a 404 naming the models that are served."""

    code = "model_not_served"


class PoolNotRunningError(UnavailableError):
    code = "pool_not_running"
