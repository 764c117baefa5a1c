"""Pool input and output shapes shared by the API, the console and the CLI, with the input
rules (names, URLs, models and aliases, cost basis; each kind's credential and settings rules
are in `kinds`). No output carries a credential.

A rule that fails raises the pool's own error (`pool_account_invalid`, `pool_credential_missing`)
rather than a `ValueError`: Pydantic lets it through unchanged, so every surface answers the same
stable code whether the rule ran while parsing or inside the service.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from spectra.kit.schema import (
    AmountIn,
    AmountOut,
    NonNegativeAmountIn,
    ReadModel,
    money_pair,
    renamed,
)

from . import kinds
from .errors import AccountInvalidError, CredentialMissingError
from .urls import normalise_base_url

ProviderName = Literal[
    "anthropic", "openai", "openai_compatible", "gemini", "azure_openai", "bedrock", "vertex"
]
CostBasis = Literal["list_price", "fixed_monthly"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")


def clean_name(raw: str) -> str:
    name = raw.strip()
    if not _NAME_RE.match(name):
        raise AccountInvalidError(
            "An account name is 1-100 letters, digits, spaces, dots, dashes or underscores, starting with a letter "
            "or digit.",
            field="name",
        )
    return name


def clean_base_url(raw: str) -> str:
    url = normalise_base_url(raw)
    if url is None:
        raise AccountInvalidError(
            "The base URL must be an absolute http(s) URL without credentials, query or fragment, "
            "e.g. https://api.anthropic.com.",
            field="base_url",
        )
    return url


def clean_list(values: list[str], what: str) -> list[str]:
    """Stripped, de-duplicated items of 1-100 characters each."""
    out: list[str] = []
    for value in values:
        item = value.strip()
        if not item or len(item) > 100:
            raise AccountInvalidError(f"Each {what} must be 1-100 characters.", field=f"{what}s")
        if item not in out:
            out.append(item)
    return out


def clean_models(models: list[str]) -> list[str]:
    patterns = clean_list(models, "model")
    if not patterns:
        raise AccountInvalidError(
            "Name at least one model or pattern the account serves, e.g. claude-*.", field="models"
        )
    if any(c.isspace() for p in patterns for c in p):
        raise AccountInvalidError("Model names and patterns cannot contain spaces.", field="models")
    return patterns


def clean_aliases(models: list[str], aliases: dict[str, str]) -> dict[str, str]:
    """Aliases stripped, each pointing at a model the (already clean) `models` serve."""
    clean: dict[str, str] = {}
    for public, upstream in aliases.items():
        public, upstream = public.strip(), upstream.strip()
        if not public or not upstream:
            raise AccountInvalidError(
                "An alias maps a public model name to an upstream name; neither may be empty.",
                field="aliases",
            )
        if not any(upstream == p or fnmatch.fnmatchcase(upstream, p) for p in models):
            raise AccountInvalidError(
                f"The alias {public} -> {upstream} points at a model this account does not serve; "
                "add it to the models.",
                field="aliases",
            )
        clean[public] = upstream
    return clean


def cost_basis_pair(basis: str, fixed: int | None) -> tuple[str, int | None]:
    """The (basis, fixed monthly cost) pair, which must agree with each other."""
    if basis == "fixed_monthly":
        if fixed is None:
            raise AccountInvalidError(
                "A fixed monthly cost basis needs the monthly cost (fixed_monthly_cost).",
                field="fixed_monthly_cost",
            )
        return basis, fixed
    if fixed is not None:
        raise AccountInvalidError(
            "A fixed monthly cost only applies with cost basis fixed_monthly.",
            field="fixed_monthly_cost",
        )
    return "list_price", None


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    provider: ProviderName
    base_url: str = Field(
        default="",
        max_length=500,
        description="Empty: the kind's own endpoint (Bedrock and Vertex from the region).",
    )
    api_key: SecretStr = Field(
        description="The upstream credential; stored encrypted, never shown again. An API key; "
        "for bedrock ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]; for vertex the "
        "service-account key file's JSON; for azure_openai the api-key or Entra ID client "
        'credentials as JSON {"tenant_id", "client_id", "client_secret", "authority"?}.'
    )
    region: str | None = Field(default=None, max_length=40, description="bedrock, vertex")
    project: str | None = Field(default=None, max_length=40, description="vertex")
    api_version: str | None = Field(default=None, max_length=40, description="azure_openai")
    models: list[str] = Field(
        min_length=1, description="Model names or glob patterns, e.g. claude-*."
    )
    aliases: dict[str, str] = Field(
        default_factory=dict, description="Public model name -> upstream name."
    )
    priority: int = Field(
        default=0, ge=0, description="Priority tier; the lowest usable tier is used first."
    )
    weight: int = Field(default=100, ge=1, le=1_000_000)
    max_concurrency: int | None = Field(default=None, ge=1)
    rpm_cap: int | None = Field(default=None, ge=1)
    tpm_cap: int | None = Field(default=None, ge=1)
    monthly_spend_cap: AmountIn | None = None
    cost_basis: CostBasis = "list_price"
    fixed_monthly_cost: NonNegativeAmountIn | None = None
    groups: list[str] = Field(
        default_factory=list, description="Group names or ids; empty = everyone."
    )
    tags: list[str] = Field(default_factory=list)
    notes: str = Field(default="", max_length=2000)
    translate: bool = Field(
        default=True,
        description="May serve callers of another protocol, their requests translated (only "
        "when no account of the caller's protocol can serve the model).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return clean_name(value)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return clean_base_url(value) if value.strip() else ""

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        """Checked by the kind's rule (`kinds.clean_credential`), then its stored form."""
        provider = info.data.get("provider")
        if provider is None:  # the provider itself was refused; that error is enough
            return value
        return SecretStr(kinds.clean_credential(provider, value.get_secret_value()).stored)

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        return clean_models(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return clean_list(value, "tag")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self.aliases = clean_aliases(self.models, self.aliases)
        cost_basis_pair(self.cost_basis, self.fixed_monthly_cost)
        return self


class AccountUpdate(BaseModel):
    """Only the fields given change; `null` clears an optional cap."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    base_url: str | None = Field(default=None, min_length=1, max_length=500)
    models: list[str] | None = Field(default=None, min_length=1)
    aliases: dict[str, str] | None = None
    priority: int | None = Field(default=None, ge=0)
    weight: int | None = Field(default=None, ge=1, le=1_000_000)
    max_concurrency: int | None = Field(default=None, ge=1)
    rpm_cap: int | None = Field(default=None, ge=1)
    tpm_cap: int | None = Field(default=None, ge=1)
    monthly_spend_cap: AmountIn | None = None
    cost_basis: CostBasis | None = None
    fixed_monthly_cost: NonNegativeAmountIn | None = None
    groups: list[str] | None = None
    tags: list[str] | None = None
    notes: str | None = Field(default=None, max_length=2000)
    translate: bool | None = Field(
        default=None, description="May serve callers of another protocol (translated)."
    )
    region: str | None = Field(default=None, max_length=40, description="bedrock, vertex")
    project: str | None = Field(default=None, max_length=40, description="vertex")
    api_version: str | None = Field(default=None, max_length=40, description="azure_openai")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else clean_name(value)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else clean_base_url(value)

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else clean_models(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else clean_list(value, "tag")


class CredentialRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr = Field(
        description="The new credential, in the form the account's kind takes (see AccountCreate)."
    )

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: SecretStr) -> SecretStr:
        """Only presence here: the kind's rule runs in `rotate_credential`, which knows it."""
        if not value.get_secret_value().strip():
            raise CredentialMissingError(
                "The credential is empty; pass the account's new credential.", field="api_key"
            )
        return value

    probe: bool = Field(
        default=True, description="Test the new credential at once (lifts needs_attention)."
    )


class AccountDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=300)


class ProbeRead(ReadModel):
    """From a `ProbeOutcome`."""

    ok: bool
    outcome: str = renamed("label", "outcome")
    latency_ms: float
    status: int | None = None
    message: str = ""


class AccountRead(ReadModel):
    id: uuid.UUID
    name: str
    provider: str
    base_url: str
    credential_last4: str
    settings: dict[str, str]
    """The kind's settings (region, project, api_version); never a secret."""
    models: list[str]
    aliases: dict[str, str]
    priority: int
    weight: int
    max_concurrency: int | None
    rpm_cap: int | None
    tpm_cap: int | None
    monthly_spend_cap: AmountOut | None = money_pair("monthly_spend_cap")
    monthly_spend_cap_micros: int | None
    cost_basis: str
    fixed_monthly_cost: AmountOut | None = money_pair("fixed_monthly_cost")
    fixed_monthly_cost_micros: int | None
    group_ids: list[str]
    tags: list[str]
    notes: str
    translate: bool = renamed("is_translation_allowed", "translate")
    """May serve callers of another protocol (their requests translated)."""
    state: str
    state_reason: str
    state_changed_at: datetime
    cooling_until: datetime | None
    last_probe_at: datetime | None
    last_probe_outcome: str | None
    last_probe_latency_ms: float | None
    created_at: datetime
    updated_at: datetime
    figures: dict[str, Any] | None = None
    """Live figures from this server's memory (API only), or today's persisted figures."""


class AccountTestRead(BaseModel):
    account: AccountRead
    probe: ProbeRead


class CredentialRotated(BaseModel):
    account: AccountRead
    probe: ProbeRead | None
    """Null when the rotation asked for no probe."""


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_state: str
    to_state: str
    reason: str
    failure_type: str | None
    cooling_until: datetime | None
    actor_label: str
    occurred_at: datetime


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    subject: str
    message: str
    details: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None


class ModelStatusRead(BaseModel):
    model: str
    """A model name or pattern some account serves (public alias names included)."""
    accounts: int
    available: int
    degraded: bool


class PoolStatusRead(BaseModel):
    """What members may see: counts per model, no account names or credentials."""

    degraded: bool
    models: list[ModelStatusRead]
