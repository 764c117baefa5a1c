"""Upstream accounts, their state transitions, daily figures and admin alerts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import true

from spectra.db.base import Base, IdMixin, TimestampMixin
from spectra.db.types import BigIntPK, MicrosType
from spectra.kit.clock import utc_now

PROVIDERS = (
    "anthropic",
    "openai",
    "openai_compatible",
    "gemini",
    "azure_openai",
    "bedrock",
    "vertex",
)
STATES = ("active", "cooling", "failing", "needs_attention", "disabled")
COST_BASES = ("list_price", "fixed_monthly")


class PoolAccount(IdMixin, TimestampMixin, Base):
    """One upstream provider account. The credential is stored only as AES-GCM ciphertext."""

    __tablename__ = "pool_accounts"
    __table_args__ = (
        CheckConstraint(f"provider IN {PROVIDERS!r}", name="provider"),
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        CheckConstraint(f"cost_basis IN {COST_BASES!r}", name="cost_basis"),
        CheckConstraint("weight >= 1", name="weight_positive"),
        CheckConstraint("priority >= 0", name="priority_nonnegative"),
        CheckConstraint(
            "max_concurrency IS NULL OR max_concurrency >= 1", name="max_concurrency_positive"
        ),
        CheckConstraint("rpm_cap IS NULL OR rpm_cap >= 1", name="rpm_cap_positive"),
        CheckConstraint("tpm_cap IS NULL OR tpm_cap >= 1", name="tpm_cap_positive"),
        CheckConstraint(
            "monthly_spend_cap_micros IS NULL OR monthly_spend_cap_micros > 0",
            name="spend_cap_positive",
        ),
        CheckConstraint(
            "(cost_basis = 'fixed_monthly') = (fixed_monthly_cost_micros IS NOT NULL)",
            name="fixed_cost_basis",
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    """The name lower-cased: account names are unique regardless of case."""
    provider: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(500))
    credential_ciphertext: Mapped[str] = mapped_column(Text)
    """`kit.crypto.encrypt` output (`v<version>.<nonce+ciphertext>`), bound to the account id."""
    credential_key_version: Mapped[int] = mapped_column(Integer)
    """Version of the credentials subkey that sealed `credential_ciphertext`."""
    credential_last4: Mapped[str] = mapped_column(String(4))
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Model names or glob patterns this account serves (upstream names)."""
    aliases: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """Public model name -> upstream model name."""
    priority: Mapped[int] = mapped_column(Integer, default=0)
    """Priority tier: the scheduler uses the lowest tier that has a usable account."""
    weight: Mapped[int] = mapped_column(Integer, default=100)
    max_concurrency: Mapped[int | None] = mapped_column(Integer)
    rpm_cap: Mapped[int | None] = mapped_column(Integer)
    tpm_cap: Mapped[int | None] = mapped_column(Integer)
    monthly_spend_cap_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Cost at list price this account may carry per calendar month (UTC), micros; None = no cap."""
    cost_basis: Mapped[str] = mapped_column(String(16), default="list_price")
    fixed_monthly_cost_micros: Mapped[int | None] = mapped_column(MicrosType)
    """What the account costs per month when `cost_basis` is `fixed_monthly`, micros (reporting only)."""
    group_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Groups this account is dedicated to (uuid strings); empty = everyone."""
    settings: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    """Kind settings (`pool/kinds.py`): region, project, api_version. Never a secret."""
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(String(2000), default="")
    is_translation_allowed: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    """Whether the account may serve callers of another protocol (their requests translated).
    Only ever used when no account of the caller's own protocol can serve the model."""

    state: Mapped[str] = mapped_column(String(16), default="active")
    state_reason: Mapped[str] = mapped_column(String(500), default="")
    state_changed_at: Mapped[datetime] = mapped_column(default=utc_now)
    cooling_until: Mapped[datetime | None] = mapped_column()
    """End of the cooling period (UTC) while `state` is `cooling`."""
    cool_streak: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive coolings without a success in between: the exponent of the backoff."""
    failure_times: Mapped[list[str]] = mapped_column(JSON, default=list)
    """ISO times of recent countable failures (inside the failure window)."""

    last_probe_at: Mapped[datetime | None] = mapped_column()
    last_probe_ok: Mapped[bool | None] = mapped_column()
    last_probe_outcome: Mapped[str | None] = mapped_column(String(32))
    """`ok` or the upstream failure type of the last probe."""
    last_probe_latency_ms: Mapped[float | None] = mapped_column(Float)
    last_probe_message: Mapped[str | None] = mapped_column(String(500))


Index("ix_pool_accounts_created_at_id", PoolAccount.created_at, PoolAccount.id)


class PoolAccountTransition(Base):
    """One state change of an account, with why and when: the account's history."""

    __tablename__ = "pool_account_transitions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pool_accounts.id", ondelete="CASCADE")
    )
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    failure_type: Mapped[str | None] = mapped_column(String(32))
    cooling_until: Mapped[datetime | None] = mapped_column()
    actor_label: Mapped[str] = mapped_column(String(200))
    """Who decided: an admin's label, `gateway` (live traffic) or `system` (probes)."""
    occurred_at: Mapped[datetime] = mapped_column()


Index(
    "ix_pool_account_transitions_account_id_occurred_at",
    PoolAccountTransition.account_id,
    PoolAccountTransition.occurred_at,
    PoolAccountTransition.id,
)


class PoolAccountDailyFigures(Base):
    """One account's figures for one UTC day, written periodically from the in-memory figures."""

    __tablename__ = "pool_account_daily_figures"
    __table_args__ = (UniqueConstraint("account_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pool_accounts.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    successes: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(MicrosType, default=0)
    """Cost at list price of the day's requests through this account, micros."""
    latency_p50_ms: Mapped[float | None] = mapped_column(Float)
    latency_p95_ms: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class PoolAlert(IdMixin, Base):
    """Something an admin should see: an account needing attention, or a model no account can serve."""

    __tablename__ = "pool_alerts"

    kind: Mapped[str] = mapped_column(String(32))
    """`no_account_available`, `account_needs_attention` or `usage_anomaly`."""
    subject: Mapped[str] = mapped_column(String(200))
    """The model name or the account name."""
    message: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    resolved_at: Mapped[datetime | None] = mapped_column()


Index("ix_pool_alerts_created_at_id", PoolAlert.created_at, PoolAlert.id)


class ModelFallback(IdMixin, TimestampMixin, Base):
    """An admin's fallback chain for a model: when the model is overloaded, rate limited or the
    prompt is too long for it, the gateway tries these models in order. `group_id` None is the
    workspace's chain; a group's own chain replaces it for that group's members."""

    __tablename__ = "model_fallbacks"
    __table_args__ = (UniqueConstraint("model", "group_id"),)

    model: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    chain: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The fallback models, in the order they are tried."""
    updated_by: Mapped[str] = mapped_column(String(200), default="")
