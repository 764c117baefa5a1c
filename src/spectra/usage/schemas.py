"""Usage and price shapes shared by the gateway, the API and the CLI."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_serializer

from spectra.kit.schema import AmountOut, NonNegativeAmountIn, ReadModel, money_pair, renamed


@dataclass(frozen=True, slots=True)
class FundingSource:
    """One ledger account a request was charged to, in funding order."""

    account_id: uuid.UUID
    kind: str
    """`allowance`, `user_wallet`, `group_wallet` (as the ledger names its accounts)."""
    amount_micros: int

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": str(self.account_id),
            "kind": self.kind,
            "amount_micros": self.amount_micros,
        }


@dataclass(frozen=True, slots=True)
class UsageRecordCreate:
    """What the gateway's settlement knows about one request. A plain dataclass: the hot path
    builds many of these; the schema's check constraints guard the table."""

    request_id: str
    protocol: str
    model_requested: str
    status: str
    """`ok`, `refused`, `error` or `partial` (a stream that ended early)."""
    user_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    funding: tuple[FundingSource, ...] = ()
    account_id: uuid.UUID | None = None
    model_served: str | None = None
    protocol_served: str | None = None
    fallback_reason: str | None = None
    fallback_trace: str | None = None
    is_streamed: bool = False
    error_type: str | None = None
    refusal_reason: str | None = None
    refusal_rule: str | None = None
    refusal_message: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    """The part of `cache_write_tokens` with a 1-hour lifetime."""
    web_search_calls: int = 0
    cost_micros: int = 0
    is_estimated: bool = False
    """Some of the tokens billed are Spectra's estimate (see `UsageRecord.is_estimated`)."""
    price_version: str | None = None
    latency_ms: int | None = None
    ttfb_ms: int | None = None
    attempts: int = 1
    client_family: str = "other"
    ledger_transaction_id: uuid.UUID | None = None
    started_at: datetime | None = None
    id: uuid.UUID | None = None
    """Set it to know the record's id before the batch commits; a uuid7 otherwise."""
    created_at: datetime | None = None
    """Leave unset: the record is stamped when it is written (the rollup cursor relies on it)."""


class FundingSourceRead(ReadModel):
    """One ledger account a request was charged to (from the record's stored funding list)."""

    account_id: uuid.UUID
    kind: str
    amount_micros: int
    amount: AmountOut = money_pair("amount")


class UsageRecordRead(ReadModel):
    """From a `UsageRecord` row; `user_email` is filled in by the list that looked emails up."""

    id: uuid.UUID
    created_at: datetime
    started_at: datetime | None
    request_id: str
    user_id: uuid.UUID | None
    user_email: str | None = None
    key_id: uuid.UUID | None
    group_id: uuid.UUID | None
    funding: list[FundingSourceRead]
    account_id: uuid.UUID | None
    protocol: str
    model_requested: str
    model_served: str | None
    is_streamed: bool
    status: str
    error_type: str | None
    refusal_reason: str | None
    refusal_rule: str | None
    refusal_message: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    """All cache-write tokens; 5-minute ones = this - `cache_write_1h_tokens`."""
    cache_write_1h_tokens: int = 0
    web_search_calls: int = 0
    cost: AmountOut = money_pair("cost")
    cost_micros: int
    is_estimated: bool
    price_version: str | None
    latency_ms: int | None
    ttfb_ms: int | None
    attempts: int
    client_family: str
    ledger_transaction_id: uuid.UUID | None
    protocol_served: str | None = None
    fallback_reason: str | None = None
    fallback_trace: str | None = None


class PriceSet(BaseModel):
    """An admin's price for a model, per million tokens in the workspace currency."""

    model: str = Field(min_length=1, max_length=200)
    input: NonNegativeAmountIn
    output: NonNegativeAmountIn
    cache_read: NonNegativeAmountIn | None = None
    cache_write: NonNegativeAmountIn | None = None
    """The 5-minute cache-write price."""
    cache_write_1h: NonNegativeAmountIn | None = None
    """The 1-hour cache-write price (genai-prices', else 2x input, when omitted)."""
    web_search: NonNegativeAmountIn | None = None
    """Per THOUSAND web search calls (genai-prices', else 10 USD converted, when omitted)."""
    effective_from: datetime | None = None
    """When it takes effect (UTC); now when omitted."""
    account: str | None = Field(default=None, min_length=1, max_length=100)
    """A pool account's name: the price applies only when that account serves the model (its
    override is named `@<account id>/<model>`, so it follows a renamed account)."""


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        head, _, tail = text.partition(".")
        text = f"{head}.{tail.ljust(2, '0')}"
    return text


class PriceTierRead(ReadModel):
    """Prices for a request whose prompt (input + cache tokens) exceeds `above_prompt_tokens`:
    they apply to every token of such a request."""

    above_prompt_tokens: int = renamed("above", "above_prompt_tokens")
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal = renamed("write_1h", "cache_write_1h")

    @field_serializer("input", "output", "cache_read", "cache_write", "cache_write_1h")
    def _price(self, value: Decimal) -> str:
        return _decimal_text(value)


class PriceRead(BaseModel):
    """A price in force (or scheduled), per million tokens in the workspace currency."""

    model: str
    source: str
    """`override` (set by an admin) or `genai-prices` (the package default)."""
    account: str | None = None
    """The pool account (its name now) an account's price applies to; None for every account."""
    version_id: str
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    """Per million 5-minute cache-write tokens."""
    cache_write_1h: Decimal
    """Per million 1-hour cache-write tokens."""
    web_search: Decimal
    """Per thousand web search calls."""
    currency: str
    effective_from: datetime | None = None
    created_by: str | None = None
    is_current: bool = True
    tiers: list[PriceTierRead] = Field(default_factory=list)
    """Long-context tiers (genai-prices defaults only; an override is one flat price)."""

    @field_serializer(
        "input", "output", "cache_read", "cache_write", "cache_write_1h", "web_search"
    )
    def _price(self, value: Decimal) -> str:
        return _decimal_text(value)
