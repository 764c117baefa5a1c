"""Errors of single sign-on: provider settings, discovery, and each refused sign-in."""

from __future__ import annotations

from spectra.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnauthenticatedError,
    UpstreamError,
)


class SsoProviderNotFoundError(NotFoundError):
    code = "sso_provider_not_found"


class SsoProviderNameTakenError(ConflictError):
    code = "sso_provider_name_taken"


class SsoSettingInvalidError(InvalidError):
    code = "sso_setting_invalid"


class SsoDiscoveryError(UpstreamError):
    """The provider's discovery document or key set could not be fetched or makes no sense."""

    code = "sso_discovery_failed"


class SsoSignInError(UnauthenticatedError):
    """A sign-in callback refused; `message` is what the sign-in page shows."""

    code = "sso_sign_in_refused"


class SsoStateInvalidError(SsoSignInError):
    code = "sso_state_invalid"


class SsoTokenInvalidError(SsoSignInError):
    code = "sso_token_invalid"


class SsoTokenExchangeError(SsoSignInError):
    code = "sso_token_exchange_failed"


class SsoNotAllowedError(SsoSignInError):
    """The identity is valid but Spectra's rules do not let it in (domain, unverified email)."""

    code = "sso_not_allowed"


class SsoRequiredError(ForbiddenError):
    code = "sso_required"
