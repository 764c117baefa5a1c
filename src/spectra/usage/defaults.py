"""Default prices from the `genai-prices` package (USD), converted to the workspace currency.

Model names match exactly first, then by genai-prices' own matching, which maps dated variants
(`claude-sonnet-4-5-20250929`) and suffixed ones (`gpt-5-codex`) to their priced model. Anthropic
and OpenAI are searched first, then any provider genai-prices knows the model from.

A price follows the provider that serves the request: for an account kind with its own
genai-prices provider (`PROVIDER_PRICES`: Bedrock is `aws`, Vertex and Gemini are `google`,
Azure OpenAI is `azure`) that provider's price comes first (Bedrock's regional endpoints cost
more than Anthropic's own API); a model it does not list falls back to the search above.

Where a model has tiered (long-context) prices, they are kept as the price's tiers (see
`pricing.Price.rates`): a request whose prompt crosses a threshold pays that tier's prices for
every token. An admin override (`spectra prices set`) is one flat price without tiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from importlib.metadata import version
from typing import Any

from genai_prices import data_snapshot
from genai_prices import types as gp

from spectra.providers import bedrock
from spectra.usage.pricing import Price, PriceTier

PREFERRED_PROVIDERS = ("anthropic", "openai")
PROVIDER_PRICES: dict[str, str] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "bedrock": "aws",
    "vertex": "google",
    "gemini": "google",
    "azure_openai": "azure",
}
"""Account kind -> the genai-prices provider whose prices it charges."""
GENAI_PRICES_VERSION = version("genai-prices")


@dataclass(frozen=True, slots=True)
class DefaultPrice:
    """A genai-prices price in USD per million tokens; cache prices None when it has none."""

    model_id: str
    provider_id: str
    input: Decimal
    output: Decimal
    cache_read: Decimal | None
    cache_write: Decimal | None
    variant: int
    """Which of the model's time-conditional prices applies (0 when it has one)."""
    tiers: tuple[PriceTier, ...] = ()
    """Long-context tiers in USD, cache prices already resolved (see `_tiers`)."""

    @property
    def version_id(self) -> str:
        suffix = f"#{self.variant}" if self.variant else ""
        return f"genai-prices@{GENAI_PRICES_VERSION}:{self.provider_id}/{self.model_id}{suffix}"

    def in_currency(self, model: str, *, currency: str, usd_rate: Decimal) -> Price:
        """This price in the workspace currency (exact product with the rate; no rounding)."""
        rate = Decimal(1) if currency.upper() == "USD" else usd_rate
        read = self.input if self.cache_read is None else self.cache_read
        write = self.input if self.cache_write is None else self.cache_write
        version_id = self.version_id
        if rate != 1:
            version_id += f"@{currency.upper()}{rate}"
        return Price(
            model=model,
            input=self.input * rate,
            output=self.output * rate,
            cache_read=read * rate,
            cache_write=write * rate,
            version_id=version_id,
            tiers=tuple(
                PriceTier(
                    above=t.above,
                    input=t.input * rate,
                    output=t.output * rate,
                    cache_read=t.cache_read * rate,
                    cache_write=t.cache_write * rate,
                )
                for t in self.tiers
            ),
        )


@lru_cache(maxsize=4096)
def _find(model_ref: str) -> tuple[gp.Provider, gp.ModelInfo] | None:
    snapshot = data_snapshot.get_snapshot()
    ref = model_ref.lower()
    for provider_id in PREFERRED_PROVIDERS:
        provider = next((p for p in snapshot.providers if p.id == provider_id), None)
        if provider is None:
            continue
        exact = next((m for m in provider.models if m.id == ref), None)
        if exact is not None:
            return provider, exact
    for provider_id in PREFERRED_PROVIDERS:
        provider = next((p for p in snapshot.providers if p.id == provider_id), None)
        if provider is None:
            continue
        found = provider.find_model(ref, all_providers=snapshot.providers)
        if found is not None:
            return provider, found
    try:
        return snapshot.find_provider_model(ref, None, None, None)
    except LookupError:
        return None


@lru_cache(maxsize=4096)
def _find_at(kind: str, model_ref: str) -> tuple[gp.Provider, gp.ModelInfo] | None:
    """The model in the genai-prices provider of account kind `kind` (Bedrock by its Bedrock
    model id), or None when that provider does not list it."""
    provider_id = PROVIDER_PRICES.get(kind)
    snapshot = data_snapshot.get_snapshot()
    provider = next((p for p in snapshot.providers if p.id == provider_id), None)
    if provider is None:
        return None
    ref = model_ref.lower()
    if kind == "bedrock" and "anthropic." not in ref:
        ref = bedrock.model_id(ref, region="us-east-1").lower()
    exact = next((m for m in provider.models if m.id == ref), None)
    return (provider, exact) if exact is not None else _found(provider, provider.find_model(ref))


def _found(
    provider: gp.Provider, info: gp.ModelInfo | None
) -> tuple[gp.Provider, gp.ModelInfo] | None:
    return None if info is None else (provider, info)


def canonical_model(model_ref: str) -> str | None:
    """The genai-prices model id a name matches (e.g. the undated id of a dated variant)."""
    found = _find(model_ref)
    return None if found is None else found[1].id


def _flat(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, gp.TieredPrices):
        return value.base
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _at(value: Any, prompt_above: int) -> Decimal | None:
    """A component's price for a prompt above `prompt_above` tokens (base when -1)."""
    if value is None:
        return None
    if not isinstance(value, gp.TieredPrices):
        return _flat(value)
    chosen = value.base
    for tier in value.tiers:
        if tier.start <= prompt_above:
            chosen = tier.price
    return chosen


def _tiers(prices: Any) -> tuple[PriceTier, ...]:
    """genai-prices' per-component tiers merged into whole-price tiers, one per threshold.

    A component without tiers keeps its base price above every threshold; a missing cache price
    follows the input price of the same tier (the documented rule for missing cache prices).
    """
    components = [getattr(prices, f"{n}_mtok", None) for n in ("input", "output")] + [
        getattr(prices, f"cache_{n}_mtok", None) for n in ("read", "write")
    ]
    starts = sorted(
        {t.start for c in components if isinstance(c, gp.TieredPrices) for t in c.tiers}
    )
    tiers = []
    for start in starts:
        input_price, output_price, read, write = (_at(c, start) for c in components)
        assert input_price is not None
        assert output_price is not None
        tiers.append(
            PriceTier(
                above=start,
                input=input_price,
                output=output_price,
                cache_read=input_price if read is None else read,
                cache_write=input_price if write is None else write,
            )
        )
    return tuple(tiers)


def default_price(
    model_ref: str, at: datetime, *, provider: str | None = None
) -> DefaultPrice | None:
    """The genai-prices price (USD per million tokens) for `model_ref` at `at`, or None.
    `provider` (an account kind) prefers the price of the provider that serves it."""
    found = (_find_at(provider, model_ref) if provider else None) or _find(model_ref)
    if found is None:
        return None
    source, info = found
    prices = info.get_prices(at)
    variant = 0
    if isinstance(info.prices, list):
        variant = next((i for i, c in enumerate(info.prices) if c.prices is prices), 0)
    input_price = _flat(getattr(prices, "input_mtok", None))
    output_price = _flat(getattr(prices, "output_mtok", None))
    if input_price is None or output_price is None:
        return None
    return DefaultPrice(
        model_id=info.id,
        provider_id=source.id,
        input=input_price,
        output=output_price,
        cache_read=_flat(getattr(prices, "cache_read_mtok", None)),
        cache_write=_flat(getattr(prices, "cache_write_mtok", None)),
        variant=variant,
        tiers=_tiers(prices),
    )


def known_models() -> list[tuple[str, str]]:
    """(provider id, model id) of every model genai-prices prices for Anthropic and OpenAI."""
    snapshot = data_snapshot.get_snapshot()
    return [
        (p.id, m.id) for p in snapshot.providers if p.id in PREFERRED_PROVIDERS for m in p.models
    ]


def context_window(model_ref: str) -> int | None:
    """The model's context window in tokens (input and output together) per genai-prices, or
    None when it does not know the model or its window."""
    found = _find(model_ref)
    window = None if found is None else found[1].context_window
    return window if isinstance(window, int) and window > 0 else None


_AUDIO_PRICES = ("output_audio_mtok", "audio_hours", "input_audio_hours", "input_mchars")
_IMAGE_PRICES = ("output_image_mtok", "input_image_mtok", "cache_image_read_mtok")


@lru_cache(maxsize=4096)
def generation_kind(model_ref: str) -> str | None:
    """What the model makes, read from how genai-prices prices it (it records no mode): "audio"
    (speech out, audio hours, characters in: realtime, TTS, transcription), "image" (image tokens:
    image generation), "none" (input priced, no output: embeddings, OCR, rerankers) or "text"
    (output tokens: chat-style generation). None when it does not know the model or prices it at
    nothing (free variants)."""
    found = _find(model_ref)
    if found is None:
        return None
    prices = found[1].prices
    latest = prices[-1].prices if isinstance(prices, list) else prices
    if any(getattr(latest, name, None) is not None for name in _AUDIO_PRICES):
        return "audio"
    if any(getattr(latest, name, None) is not None for name in _IMAGE_PRICES):
        return "image"
    if latest.output_mtok is not None:
        return "text"
    return "none" if latest.input_mtok is not None else None
