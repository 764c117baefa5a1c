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


class ProtocolUnknownError(InvalidError):
    code = "pool_protocol_unknown"


class AccountDisabledError(ConflictError):
    code = "pool_account_disabled"


class NoAccountAvailableError(UnavailableError):
    """No account in the pool can serve this request now; the gateway refuses with this sentence."""

    code = "no_account_available"


class ModelNotServedError(NotFoundError):
    """No account in the pool is configured to serve this model in the caller's protocol at all:
    not a capacity problem (no alert, no retry), so a 404 naming the models that are served."""

    code = "model_not_served"


def model_not_served(
    model: str, protocol: str | None, served: list[str], *, translation_off: bool
) -> ModelNotServedError:
    """The refusal for `model`, naming what the caller's reachable accounts serve instead;
    `translation_off`: accounts of another protocol list it but take no translated traffic."""
    shown = ", ".join(served[:12]) + (", ..." if len(served) > 12 else "")
    listing = f" Served here: {shown}." if served else " No account is set up yet."
    why = (
        f"Only accounts of another protocol serve {model}, and they do not take translated traffic."
        if translation_off
        else f"No account in this workspace serves {model}."
    )
    return ModelNotServedError(
        f"{why}{listing} Ask an admin to add it to an account, or choose a served model.",
        model=model,
        protocol=protocol,
        served=served[:50],
    )


class PoolNotRunningError(UnavailableError):
    code = "pool_not_running"
