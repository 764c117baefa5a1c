"""Errors of the users domain: users, groups, passwords, sign-in and sessions."""

from __future__ import annotations

from spectra.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
    UnauthenticatedError,
)


class UserNotFoundError(NotFoundError):
    code = "user_not_found"


class GroupNotFoundError(NotFoundError):
    code = "group_not_found"


class EmailTakenError(ConflictError):
    code = "email_taken"


class GroupNameTakenError(ConflictError):
    code = "group_name_taken"


class LastOwnerError(ConflictError):
    code = "last_owner"


class UserStatusError(ConflictError):
    """The action does not fit the user's current status (e.g. reactivating an active user)."""

    code = "user_status_conflict"


class BuiltinGroupError(ConflictError):
    code = "group_builtin"


class GroupRequiredError(InvalidError):
    code = "group_required"


class UnknownRoleError(InvalidError):
    code = "unknown_role"


class UnknownStatusError(InvalidError):
    code = "unknown_status"


class InvalidEmailError(InvalidError):
    code = "invalid_email"


class FieldTooLongError(InvalidError):
    code = "field_too_long"


class FieldRequiredError(InvalidError):
    code = "field_required"


class WeakPasswordError(InvalidError):
    code = "password_too_weak"


class ImportRejectedError(InvalidError):
    """Some CSV lines were rejected, so nothing was imported; `details["rejected"]` lists them."""

    code = "import_rejected"


class SetupLinkInvalidError(InvalidError):
    code = "setup_link_invalid"


class OwnerProtectedError(ForbiddenError):
    code = "owner_protected"


class SelfActionError(ForbiddenError):
    code = "self_action"


class UserSuspendedError(ForbiddenError):
    code = "user_suspended"


class UserRemovedError(ForbiddenError):
    code = "user_removed"


class UserNotActiveError(ForbiddenError):
    code = "user_not_active"


class CurrentPasswordWrongError(ForbiddenError):
    code = "current_password_wrong"


class CsrfError(ForbiddenError):
    code = "csrf_failed"


class InvalidCredentialsError(UnauthenticatedError):
    code = "invalid_credentials"


class SessionInvalidError(UnauthenticatedError):
    code = "session_invalid"


class SignInLockedError(RateLimitedError):
    code = "sign_in_locked"


class DirectoryIdTakenError(ConflictError):
    """Another user already has this SCIM userName or externalId."""

    code = "directory_id_taken"
