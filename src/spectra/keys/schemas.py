"""Input and output shapes of member keys and admin tokens, shared by the API and the CLI."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from spectra.kit.schema import renamed

from .models import AdminToken, MemberKey
from .rules import (
    MAX_FIRST_USE_DAYS,
    MAX_NAME,
    MAX_NETWORKS,
    MAX_SCOPE_LENGTH,
    MAX_SCOPES,
    end_of_day,
)


def parse_expiry(value: Any) -> Any:
    """A date (`2026-12-31`: through the end of that day, UTC) or a datetime with a time zone."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return end_of_day(value)
    if isinstance(value, str) and len(value.strip()) == 10:
        return end_of_day(date.fromisoformat(value.strip()))
    return value


Expiry = Annotated[datetime | None, BeforeValidator(parse_expiry)]
Scopes = list[Annotated[str, Field(max_length=MAX_SCOPE_LENGTH)]]
Networks = list[Annotated[str, Field(max_length=100)]]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID | None = None
    """Whose key; default the caller. Or name them by `user_email`."""
    user_email: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=MAX_NAME)
    scopes: Scopes = Field(default_factory=list, max_length=MAX_SCOPES)
    """Model glob patterns (`claude-*`); empty = any model."""
    ip_allowlist: Networks = Field(default_factory=list, max_length=MAX_NETWORKS)
    """CIDRs the key may be used from; empty = anywhere."""
    expires_at: Expiry = None
    expires_after_first_use_days: int | None = Field(default=None, ge=1, le=MAX_FIRST_USE_DAYS)
    group: str | None = Field(default=None, max_length=100)
    """Bind the key to one of the user's groups (spend attributed there); default the primary."""


class KeyUpdate(BaseModel):
    """Only the fields sent change; `null` clears an expiry."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=MAX_NAME)
    scopes: Scopes | None = Field(default=None, max_length=MAX_SCOPES)
    ip_allowlist: Networks | None = Field(default=None, max_length=MAX_NETWORKS)
    expires_at: Expiry = None
    expires_after_first_use_days: int | None = Field(default=None, ge=1, le=MAX_FIRST_USE_DAYS)


class KeyRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_hours: float = Field(default=24.0, ge=0, le=24 * 30)
    """How long the old secret keeps working."""


# Read models validate from a row (its user loaded: `KeyRead.model_validate(key)`) or read back
# from their own JSON (the CLI). Comments, not docstrings: a docstring would enter OpenAPI.
class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    user_email: str = renamed("user.email", "user_email")
    group_id: uuid.UUID | None
    """The group the key is bound to (its spend is attributed there); null = the primary group."""
    name: str
    prefix: str
    scopes: list[str]
    ip_allowlist: list[str]
    status: str = renamed("status_now", "status")
    """`active`, `revoked` (also a rotated key after its grace period) or `expired`, now."""
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    expires_after_first_use_days: int | None
    first_used_at: datetime | None
    effective_expires_at: datetime | None = renamed("effective_expiry", "effective_expires_at")
    """The earlier of `expires_at` and first use + `expires_after_first_use_days`."""
    rotated_from_id: uuid.UUID | None
    grace_until: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None


class KeyCreated(KeyRead):
    secret: str
    """The key itself: shown this once, never again."""

    @classmethod
    def with_secret(cls, key: MemberKey, secret: str) -> KeyCreated:
        return cls(**KeyRead.model_validate(key).model_dump(), secret=secret)


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID | None = None
    """Default (and, over the API, only) the caller."""
    user_email: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=MAX_NAME)
    read_only: bool = False
    expires_at: Expiry = None


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    user_email: str = renamed("user.email", "user_email")
    name: str
    prefix: str
    read_only: bool
    scope: str | None = None
    """None: the REST API with the user's role; `scim`: only directory provisioning."""
    status: str = renamed("status_now", "status")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    secret: str
    """The token itself: shown this once, never again."""

    @classmethod
    def with_secret(cls, token: AdminToken, secret: str) -> TokenCreated:
        return cls(**TokenRead.model_validate(token).model_dump(), secret=secret)


class ScimTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_email: str | None = Field(default=None, max_length=320)
    """Over the API, only the caller (the default)."""
    name: str = Field(default="", max_length=MAX_NAME)
    expires_at: Expiry = None
