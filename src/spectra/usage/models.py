"""Usage records (one per gateway request, never bodies) and admin price overrides."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Dialect,
    Index,
    Integer,
    String,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from spectra.db.base import Base, IdMixin
from spectra.db.types import BigIntPK, MicrosType
from spectra.kit.clock import utc_now


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal stored as text: the same on SQLite and PostgreSQL, never a float."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class PriceOverride(IdMixin, Base):
    """An admin's price for a model from `effective_from` on: one row per price version.

    Rows are never updated; a new price is a new row, so the history stays and every usage
    record's `price_version` (`override:<id>`) names the exact prices it was charged at.
    """

    __tablename__ = "prices"

    model: Mapped[str] = mapped_column(String(200))
    """The model name as requested, lower-cased; it also prices dated variants of that model."""
    input_price: Mapped[Decimal] = mapped_column(DecimalText())
    """Workspace currency units per million uncached input tokens."""
    output_price: Mapped[Decimal] = mapped_column(DecimalText())
    """Workspace currency units per million output tokens."""
    cache_read_price: Mapped[Decimal] = mapped_column(DecimalText())
    """Workspace currency units per million cache-read tokens (filled in at set time if omitted)."""
    cache_write_price: Mapped[Decimal] = mapped_column(DecimalText())
    """Workspace currency units per million cache-write tokens (filled in at set time if omitted)."""
    cache_write_1h_price: Mapped[Decimal | None] = mapped_column(DecimalText(), nullable=True)
    """Per million 1-hour cache-write tokens (`cache_write_price` is the 5-minute one); filled in
    at set time if omitted, NULL on rows older than it (read as `pricing.resolve_cache_write_1h`)."""
    web_search_price: Mapped[Decimal | None] = mapped_column(DecimalText(), nullable=True)
    """Per THOUSAND server-side web search calls; filled in at set time, NULL on older rows
    (read as `pricing.DEFAULT_WEB_SEARCH_PER_THOUSAND_USD` converted)."""
    currency: Mapped[str] = mapped_column(String(3))
    """The workspace currency when the price was set."""
    effective_from: Mapped[datetime] = mapped_column()
    """From when the price applies (UTC); it applies until a later override takes effect."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(320))
    note: Mapped[str] = mapped_column(String(500), default="")
    """How missing cache prices were filled in, for the record."""

    @property
    def version_id(self) -> str:
        return f"override:{self.id}"


Index("ix_prices_model_effective_from", PriceOverride.model, PriceOverride.effective_from)


USAGE_STATUSES = ("ok", "refused", "error", "partial")


class UsageRecord(IdMixin, Base):
    """One gateway request: who, what, how many tokens, what it cost. Never a body.

    No foreign keys: records are written in bulk on the settlement path and outlive keys and
    accounts; ids are kept as they were at request time.
    """

    __tablename__ = "usage_records"
    __table_args__ = (
        CheckConstraint("status IN ('ok', 'refused', 'error', 'partial')", name="status"),
        CheckConstraint(
            "input_tokens >= 0 AND output_tokens >= 0 AND cache_read_tokens >= 0"
            " AND cache_write_tokens >= 0",
            name="tokens_non_negative",
        ),
        CheckConstraint("cost_micros >= 0", name="cost_non_negative"),
    )

    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    """When the record was written at settlement (UTC); with `id` the rollup cursor's key."""
    started_at: Mapped[datetime | None] = mapped_column()
    """When the request arrived (UTC)."""
    request_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID | None] = mapped_column()
    key_id: Mapped[uuid.UUID | None] = mapped_column()
    group_id: Mapped[uuid.UUID | None] = mapped_column()
    project_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    """The project the request was attributed to (by its key or `x-spectra-project`)."""
    funding: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Funding sources charged: [{"account_id", "kind", "amount_micros"}], amounts in micros."""
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    """The pool (upstream) account that served the request; None when none was picked."""
    protocol: Mapped[str] = mapped_column(String(32))
    """`openai_chat`, `openai_responses`, `anthropic_messages`, ... (as the gateway names it)."""
    model_requested: Mapped[str] = mapped_column(String(200))
    model_served: Mapped[str | None] = mapped_column(String(200))
    protocol_served: Mapped[str | None] = mapped_column(String(32))
    """The protocol the serving account was sent the request in (`protocol` unless translated);
    None when no account served it."""
    fallback_reason: Mapped[str | None] = mapped_column(String(64))
    """Why a fallback model was tried (`overloaded`, `rate_limited`, `context_too_long`,
    `no_account_available`); None when the asked model's chain was not used."""
    fallback_trace: Mapped[str | None] = mapped_column(String(500))
    """What the fallback did: the models tried or skipped, and why."""
    is_streamed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    error_type: Mapped[str | None] = mapped_column(String(64))
    """The upstream error taxonomy name when the request failed."""
    refusal_reason: Mapped[str | None] = mapped_column(String(64))
    """The Spectra reason code of a refusal (e.g. `package_allowance_exhausted`)."""
    refusal_rule: Mapped[str | None] = mapped_column(String(200))
    """The policy rule that decided the refusal."""
    refusal_message: Mapped[str | None] = mapped_column(String(500))
    """The sentence the caller was given with the refusal, so the portal can show the same one."""
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    """Every cache-write token, whatever its lifetime (5-minute ones = this - 1-hour ones)."""
    cache_write_1h_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """The part of `cache_write_tokens` written with a 1-hour lifetime (priced apart)."""
    web_search_calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Server-side web searches the upstream ran and bills per call."""
    cost_micros: Mapped[int] = mapped_column(MicrosType, default=0)
    """What the member was charged, micros of the workspace currency (>= 0)."""
    is_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Some of the tokens billed are Spectra's estimate, not the upstream's report: it reported
    no usage, a stream was cut before its usage, or reported counts were not sane (replaced or
    clamped; docs/gateway.md, Billing policy)."""
    price_version: Mapped[str | None] = mapped_column(String(160))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    ttfb_ms: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    client_family: Mapped[str] = mapped_column(String(32), default="other")
    ledger_transaction_id: Mapped[uuid.UUID | None] = mapped_column()


Index("ix_usage_records_created_at_id", UsageRecord.created_at, UsageRecord.id)
Index("ix_usage_records_user_id_created_at", UsageRecord.user_id, UsageRecord.created_at)
Index("ix_usage_records_group_id_created_at", UsageRecord.group_id, UsageRecord.created_at)
Index("ix_usage_records_key_id_created_at", UsageRecord.key_id, UsageRecord.created_at)
Index("ix_usage_records_account_id_created_at", UsageRecord.account_id, UsageRecord.created_at)
Index(
    "ix_usage_records_model_requested_created_at",
    UsageRecord.model_requested,
    UsageRecord.created_at,
)
Index("ix_usage_records_request_id", UsageRecord.request_id)
Index("ix_usage_records_ledger_transaction_id", UsageRecord.ledger_transaction_id)


ROLLUP_PERIODS = ("hour", "day")
ROLLUP_DIMENSIONS = (
    "all",
    "user",
    "group",
    "model",
    "account",
    "key",
    "client",
    "user_client",
    "user_model",
    "group_model",
    "account_model",
    "account_user",
)
"""What a rollup row is grouped by. `all` is the workspace total (value ""); the pairs
(`user_client`, `user_model`, `group_model`, `account_model`, `account_user`) hold
"<first>|<second>" and answer adoption, usage by model, and pool economics (what each account
served per model, and which members it served)."""


class UsageRollup(Base):
    """Aggregates of usage records per period bucket and dimension value, kept for good.

    Maintained incrementally by the rollup job (`rollups.py`); never rebuilt by re-scanning.
    """

    __tablename__ = "usage_rollups"
    __table_args__ = (CheckConstraint("period IN ('hour', 'day')", name="period"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(8))
    bucket_start: Mapped[datetime] = mapped_column()
    """Start of the UTC hour or UTC day the records fall in (by `created_at`)."""
    dimension: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(240))
    """The dimension's value: an id, a model name, a client family, or "a|b" for pairs."""
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    ok: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    partial: Mapped[int] = mapped_column(BigInteger, default=0)
    streamed: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_1h_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    web_search_calls: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_micros: Mapped[int] = mapped_column(MicrosType, default=0)
    """Sum of what members were charged, micros of the workspace currency."""
    latency_ms_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    """Sum of latencies of the records that have one (average = sum / latency_count)."""
    latency_count: Mapped[int] = mapped_column(BigInteger, default=0)


Index(
    "uq_usage_rollups_key",
    UsageRollup.period,
    UsageRollup.dimension,
    UsageRollup.value,
    UsageRollup.bucket_start,
    unique=True,
)
Index(
    "ix_usage_rollups_period_dimension_bucket",
    UsageRollup.period,
    UsageRollup.dimension,
    UsageRollup.bucket_start,
)


class UsageRollupCursor(Base):
    """How far the rollup job has read usage records, by (created_at, id)."""

    __tablename__ = "usage_rollup_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_created_at: Mapped[datetime | None] = mapped_column()
    last_id: Mapped[uuid.UUID | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    """When the cursor last moved (for staleness checks), never a cursor itself."""
