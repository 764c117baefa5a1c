"""Errors of member keys and admin tokens. Authentication failures carry stable codes the
gateway and the REST API show as they are."""

from __future__ import annotations

from spectra.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnauthenticatedError,
)


class InvalidApiKeyError(UnauthenticatedError):
    code = "invalid_api_key"


class KeyRevokedError(UnauthenticatedError):
    code = "key_revoked"


class KeyExpiredError(UnauthenticatedError):
    code = "key_expired"


class IpNotAllowedError(ForbiddenError):
    code = "ip_not_allowed"


class UserSuspendedError(ForbiddenError):
    code = "user_suspended"


class InvalidTokenError(UnauthenticatedError):
    code = "invalid_token"


class TokenRevokedError(UnauthenticatedError):
    code = "token_revoked"


class TokenExpiredError(UnauthenticatedError):
    code = "token_expired"


class KeyNotFoundError(NotFoundError):
    code = "key_not_found"


class TokenNotFoundError(NotFoundError):
    code = "token_not_found"


class KeyOwnerNotFoundError(NotFoundError):
    code = "user_not_found"


class KeyOwnerInactiveError(ConflictError):
    code = "user_not_active"


class KeyNotActiveError(ConflictError):
    code = "key_not_active"


class KeyAlreadyRotatedError(ConflictError):
    code = "key_already_rotated"


class TokenNotActiveError(ConflictError):
    code = "token_not_active"


class InvalidCidrError(InvalidError):
    code = "invalid_cidr"


class InvalidScopeError(InvalidError):
    code = "invalid_scope"


class InvalidExpiryError(InvalidError):
    code = "invalid_expiry"


class InvalidKeyNameError(InvalidError):
    code = "invalid_name"


class KeyOwnerRequiredError(InvalidError):
    code = "user_required"


class TokenForOtherUserError(ForbiddenError):
    code = "token_for_other_user"


class TokenFromMemberKeyError(ForbiddenError):
    code = "token_from_member_key"
