"""Tokens × price, exactly: the cost of one request (pure, no session).

Token classes are disjoint: `input_tokens` are the uncached input tokens, `cache_read_tokens`
the input tokens served from the provider's prompt cache, `cache_write_tokens` the input tokens
written to it, `output_tokens` everything generated (reasoning included). OpenAI reports cached
tokens inside `prompt_tokens`; the caller subtracts them before building a `TokenUsage`.

Cache writes by lifetime: `cache_write_1h_tokens` is the PART of `cache_write_tokens` written
with a 1-hour lifetime (Anthropic bills them at 2x input); the rest are 5-minute writes (1.25x
input, `Price.cache_write`). Where a price source has no 1-hour write price, it is 2x the input
price of the same tier (`resolve_cache_write_1h`, Anthropic's published multiplier).

Server-side tools billed per call: `web_search_calls` × `Price.web_search` (per THOUSAND calls;
genai-prices' `web_searches_kcount`, else $10 per 1,000, Anthropic's and OpenAI's list price).

The cost of a request is, for each class, tokens × price per million tokens, summed exactly as
a Decimal, then rounded ONCE, half up, to a micro-unit by `spectra.kit.money.round_micros`.

Long-context ("cliff") tiers: some models cost more per token once a request's prompt (input +
cache read + cache write tokens) exceeds a threshold, and then the higher price applies to EVERY
token of that request, output included — the providers' rule, and genai-prices'. A `Price`
carries its tiers; `Price.rates` picks the one a request falls in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, Inexact, localcontext

from spectra.kit.money import MICROS_PER_UNIT, Micros, round_micros

TOKENS_PER_PRICE_UNIT = 1_000_000
"""Prices are quoted per million tokens."""
CALLS_PER_PRICE_UNIT = 1_000
"""Per-call fees (web search) are quoted per thousand calls."""
CACHE_WRITE_1H_MULTIPLIER = Decimal(2)
"""A 1-hour cache write costs 2x the input price where a source has no price for it."""
DEFAULT_WEB_SEARCH_PER_THOUSAND_USD = Decimal(10)
"""$10 per 1,000 web searches (Anthropic's price page) where a source has no price for it."""

TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "web_search_calls",
)
"""The token counts of a request (and of every sum of requests), in the order columns show them."""


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of one request by class (disjoint classes; see the module docstring)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    """The part of `cache_write_tokens` written with a 1-hour lifetime."""
    web_search_calls: int = 0

    def __post_init__(self) -> None:
        for name in TOKEN_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        if self.cache_write_1h_tokens > self.cache_write_tokens:
            raise ValueError("cache_write_1h_tokens is a part of cache_write_tokens")

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    @property
    def billable(self) -> bool:
        """Anything to charge: a token, or a per-call fee."""
        return bool(self.total_tokens or self.web_search_calls)


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices per million tokens for a request whose prompt exceeds `above` tokens."""

    above: int
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal | None = None
    """None: `resolve_cache_write_1h` (2x this tier's input)."""

    @property
    def write_1h(self) -> Decimal:
        return resolve_cache_write_1h(self.input, self.cache_write_1h)


@dataclass(frozen=True, slots=True)
class Price:
    """A model's prices per MILLION tokens in the workspace currency (exact Decimals).

    `version_id` names exactly this price (an override row, or a genai-prices default at a
    package version, converted at a rate); every usage record keeps the one it was charged at.
    Cache prices are always filled in; `resolve_cache_prices` states the rule when a source
    has none.
    """

    model: str
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    version_id: str
    tiers: tuple[PriceTier, ...] = ()
    """Long-context tiers, ascending by `above` (empty for a flat price)."""
    cache_write_1h: Decimal | None = None
    """Per million 1-hour cache-write tokens; None: `resolve_cache_write_1h` (2x input)."""
    web_search: Decimal = DEFAULT_WEB_SEARCH_PER_THOUSAND_USD
    """Per thousand web search calls, in the price's currency (the sources fill it in)."""

    @property
    def write_1h(self) -> Decimal:
        return resolve_cache_write_1h(self.input, self.cache_write_1h)

    def __post_init__(self) -> None:
        if not isinstance(self.web_search, Decimal) or not self.web_search.is_finite():
            raise ValueError(f"price web_search must be a finite Decimal, not {self.web_search!r}")
        if self.web_search < 0:
            raise ValueError("price web_search must not be negative")
        for part in (self, *self.tiers):
            for name in ("input", "output", "cache_read", "cache_write", "cache_write_1h"):
                value = getattr(part, name)
                if value is None and name == "cache_write_1h":
                    continue
                if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                    raise ValueError(
                        f"price {name} must be a non-negative finite Decimal, not {value!r}"
                    )
        if [t.above for t in self.tiers] != sorted({t.above for t in self.tiers}):
            raise ValueError("price tiers must be ascending with distinct thresholds")

    def rates(self, usage: TokenUsage) -> Price | PriceTier:
        """The prices that apply to `usage`: the highest tier its prompt exceeds, else the base."""
        if self.tiers:
            prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
            for tier in reversed(self.tiers):
                if prompt > tier.above:
                    return tier
        return self


def resolve_cache_prices(
    input_price: Decimal, cache_read: Decimal | None, cache_write: Decimal | None
) -> tuple[Decimal, Decimal]:
    """The documented rule for missing cache prices: a cache token costs what an input token costs.

    Providers that publish no cache-write price (OpenAI caches automatically) bill written
    tokens as plain input, and a provider with no cache-read discount bills cached input at the
    input price; charging the input price is therefore never below the provider's own bill.
    Where genai-prices knows a model's cache prices, those are used instead (see `defaults.py`).
    """
    return (
        input_price if cache_read is None else cache_read,
        input_price if cache_write is None else cache_write,
    )


def resolve_cache_write_1h(input_price: Decimal, cache_write_1h: Decimal | None) -> Decimal:
    """The documented rule for a missing 1-hour cache-write price: 2x the input price (Anthropic
    bills 1-hour writes at 2x base input; no other provider has them, so it never applies to
    tokens another provider reported)."""
    return input_price * CACHE_WRITE_1H_MULTIPLIER if cache_write_1h is None else cache_write_1h


def exact_cost_micros(usage: TokenUsage, price: Price) -> Decimal:
    """The unrounded cost in micros: Σ tokens × price per million, as an exact Decimal.

    Computed with enough precision that no step rounds (an inexact step raises instead).
    """
    rates = price.rates(usage)
    with localcontext() as ctx:
        ctx.prec = 120
        ctx.traps[Inexact] = True
        writes_1h = usage.cache_write_1h_tokens
        total = (
            usage.input_tokens * rates.input
            + usage.output_tokens * rates.output
            + usage.cache_read_tokens * rates.cache_read
            + (usage.cache_write_tokens - writes_1h) * rates.cache_write
            + writes_1h * rates.write_1h
        )
        # Units per million tokens × 1e6 micros per unit ÷ 1e6 tokens = micros.
        micros = total * MICROS_PER_UNIT / TOKENS_PER_PRICE_UNIT
        if usage.web_search_calls:
            micros += (
                usage.web_search_calls * price.web_search * MICROS_PER_UNIT / CALLS_PER_PRICE_UNIT
            )
        return micros


def cost_micros(usage: TokenUsage, price: Price) -> Micros:
    """The cost of one request in micros, rounded once, half up (the only rounding)."""
    return round_micros(exact_cost_micros(usage, price))
