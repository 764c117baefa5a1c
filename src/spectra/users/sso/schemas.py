"""Input and output of the SSO provider settings, shared by the API, the console and the CLI."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import SsoSettingInvalidError

DEFAULT_SCOPES = ["openid", "email", "profile"]


class GroupMapping(BaseModel):
    """An IdP group (a value of the groups claim) and what it gives in Spectra."""

    model_config = ConfigDict(extra="forbid")

    claim: str = Field(min_length=1, max_length=200)
    group: str | None = Field(default=None, max_length=100)
    """The Spectra group a user with this IdP group is placed in (its default package follows)."""
    role: str | None = Field(default=None, max_length=16)
    """The role given; the highest role among a user's matching mappings wins."""


def parse_mapping(item: str) -> GroupMapping:
    """`IDP_GROUP=GROUP:ROLE` (either GROUP or ROLE may be empty), as the CLI and console take it."""
    claim, sep, target = item.partition("=")
    group, _, role = target.partition(":")
    if not sep or not claim.strip() or not (group.strip() or role.strip()):
        raise SsoSettingInvalidError(
            f"A group mapping is IDP_GROUP=GROUP:ROLE (either part may be empty), not '{item[:100]}'.",
            field="group_mappings",
        )
    return GroupMapping(claim=claim.strip(), group=group.strip() or None, role=role.strip() or None)


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    issuer: str = Field(min_length=1, max_length=500)
    client_id: str = Field(min_length=1, max_length=300)
    client_secret: str = Field(min_length=1, max_length=1000)
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    allowed_domains: list[str] = Field(default_factory=list)
    groups_claim: str | None = Field(default=None, max_length=100)
    group_mappings: list[GroupMapping] = Field(default_factory=list)
    require_sso: bool = False
    break_glass_owner: str | None = Field(default=None, max_length=320)
    """Email of the owner who may still sign in with a password when SSO is required."""
    trust_email: bool = False
    """Treat `email` as verified when the provider sends no `email_verified` (Entra ID)."""
    session_ttl_minutes: int | None = Field(default=None, ge=5, le=60 * 24 * 30)


class ProviderUpdate(BaseModel):
    """A change of a provider's settings: only the fields sent change (`null` clears the
    optional ones). A new `client_secret` replaces the sealed one; it is never returned."""

    model_config = ConfigDict(extra="forbid")

    issuer: str | None = Field(default=None, min_length=1, max_length=500)
    client_id: str | None = Field(default=None, min_length=1, max_length=300)
    client_secret: str | None = Field(default=None, min_length=1, max_length=1000)
    scopes: list[str] | None = None
    allowed_domains: list[str] | None = None
    groups_claim: str | None = Field(default=None, max_length=100)
    group_mappings: list[GroupMapping] | None = None
    require_sso: bool | None = None
    break_glass_owner: str | None = Field(default=None, max_length=320)
    trust_email: bool | None = None
    session_ttl_minutes: int | None = Field(default=None, ge=5, le=60 * 24 * 30)
    is_enabled: bool | None = None
    """A disabled provider keeps its settings but shows no button and signs nobody in."""

    def changes(self) -> dict[str, Any]:
        """The fields sent; `null` only where it means "clear" (not for required settings)."""
        required = {"issuer", "client_id", "client_secret", "scopes", "allowed_domains"}
        required |= {"group_mappings", "require_sso", "trust_email", "is_enabled"}
        sent = self.model_dump(include=self.model_fields_set)
        return {k: v for k, v in sent.items() if v is not None or k not in required}


class ProviderRead(BaseModel):
    """A provider's settings; the client secret shows only its last four characters."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    issuer: str
    client_id: str
    client_secret_last4: str
    scopes: list[str]
    allowed_domains: list[str]
    groups_claim: str | None
    group_mappings: list[GroupMapping]
    require_sso: bool
    break_glass_user_id: uuid.UUID | None
    trust_email: bool
    session_ttl_minutes: int | None
    is_enabled: bool
    created_at: datetime
    updated_at: datetime


class ProviderList(BaseModel):
    items: list[ProviderRead]
    next_cursor: str | None = None


class ProviderTestRead(BaseModel):
    """What `spectra sso test` reports: discovery and key set fetched and checked."""

    ok: bool
    issuer: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    end_session_endpoint: str | None = None
    key_ids: list[str] = Field(default_factory=list)
    supports_pkce_s256: bool | None = None
    message: str

    @classmethod
    def failed(cls, issuer: str, message: str) -> ProviderTestRead:
        return cls(ok=False, issuer=issuer, message=message)


def snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of provider settings: never the client secret."""
    return {k: v for k, v in data.items() if k != "client_secret"}
