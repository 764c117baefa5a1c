"""Second-factor and step-up refusals (stable codes; the surfaces map the kinds)."""

from __future__ import annotations

from spectra.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
    UnauthenticatedError,
)


class SecondFactorRequiredError(UnauthenticatedError):
    """The password was right; the session waits for the second factor."""

    code = "second_factor_required"


class MfaRequiredError(UnauthenticatedError):
    """The REST API's password step for an account with a second factor: the answer carries a
    challenge token to send back with a code (`POST /api/auth/login/second-factor`)."""

    code = "mfa_required"


class SecondFactorWrongError(UnauthenticatedError):
    code = "second_factor_wrong"


class SecondFactorReplayedError(UnauthenticatedError):
    code = "second_factor_replayed"


class SecondFactorLockedError(RateLimitedError):
    code = "second_factor_locked"


class TotpAlreadyEnrolledError(ConflictError):
    code = "totp_already_enrolled"


class TotpNotStartedError(InvalidError):
    code = "totp_not_started"


class MfaNotForSsoError(InvalidError):
    """SSO-only users prove themselves at the identity provider (it is their factor)."""

    code = "mfa_not_for_sso"


class PasskeyInvalidError(UnauthenticatedError):
    code = "passkey_invalid"


class PasskeyNotFoundError(NotFoundError):
    code = "passkey_not_found"


class EnrolmentRequiredError(ForbiddenError):
    """The workspace requires a second factor for this role and the user has none yet."""

    code = "second_factor_enrolment_required"


class StepUpRequiredError(ForbiddenError):
    """A sensitive action needs a recent sign-in; the console asks to confirm it is you."""

    code = "step_up_required"
