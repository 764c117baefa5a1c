"""What the API answers about a user's second factors."""

from __future__ import annotations

from pydantic import BaseModel


class MfaResetRead(BaseModel):
    """What an admin's reset removed."""

    email: str
    totp: int
    """Authenticator apps removed (0 or 1)."""
    passkeys: int
    recovery_codes: int
