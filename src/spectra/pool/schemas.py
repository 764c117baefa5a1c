"""Pool input and output shapes shared by the API and the CLI. No output carries a credential."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from spectra.kit.schema import AmountIn, AmountOut, NonNegativeAmountIn

ProviderName = Literal[
    "anthropic", "openai", "openai_compatible", "gemini", "azure_openai", "bedrock", "vertex"
]
CostBasis = Literal["list_price", "fixed_monthly"]


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
        "service-account key file's JSON."
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


class CredentialRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr
    probe: bool = Field(
        default=True, description="Test the new credential at once (lifts needs_attention)."
    )


class AccountDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=300)


class ProbeRead(BaseModel):
    ok: bool
    outcome: str
    latency_ms: float
    status: int | None = None
    message: str = ""


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    provider: str
    base_url: str
    credential_last4: str
    settings: dict[str, str] = Field(default_factory=dict)
    models: list[str]
    aliases: dict[str, str]
    priority: int
    weight: int
    max_concurrency: int | None
    rpm_cap: int | None
    tpm_cap: int | None
    monthly_spend_cap: AmountOut | None
    monthly_spend_cap_micros: int | None
    cost_basis: str
    fixed_monthly_cost: AmountOut | None
    fixed_monthly_cost_micros: int | None
    group_ids: list[str]
    tags: list[str]
    notes: str
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

    @classmethod
    def of(cls, account: Any, figures: dict[str, Any] | None = None) -> AccountRead:
        return cls(
            id=account.id,
            name=account.name,
            provider=account.provider,
            base_url=account.base_url,
            credential_last4=account.credential_last4,
            settings=dict(account.settings or {}),
            models=list(account.models),
            aliases=dict(account.aliases),
            priority=account.priority,
            weight=account.weight,
            max_concurrency=account.max_concurrency,
            rpm_cap=account.rpm_cap,
            tpm_cap=account.tpm_cap,
            monthly_spend_cap=account.monthly_spend_cap_micros,
            monthly_spend_cap_micros=account.monthly_spend_cap_micros,
            cost_basis=account.cost_basis,
            fixed_monthly_cost=account.fixed_monthly_cost_micros,
            fixed_monthly_cost_micros=account.fixed_monthly_cost_micros,
            group_ids=list(account.group_ids),
            tags=list(account.tags),
            notes=account.notes,
            state=account.state,
            state_reason=account.state_reason,
            state_changed_at=account.state_changed_at,
            cooling_until=account.cooling_until,
            last_probe_at=account.last_probe_at,
            last_probe_outcome=account.last_probe_outcome,
            last_probe_latency_ms=account.last_probe_latency_ms,
            created_at=account.created_at,
            updated_at=account.updated_at,
            figures=figures,
        )


class AccountTestRead(BaseModel):
    account: AccountRead
    probe: ProbeRead


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
