"""The in-memory price table the gateway's hot path reads: no database round trip per request.

Loaded at start-up and refreshed through the change feed (`usage.prices` for overrides,
`workspace.settings` for the currency and the USD rate).
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from spectra.db.session import AnySession
from spectra.usage import defaults, repository
from spectra.usage.errors import ModelUnpricedError
from spectra.usage.models import PriceOverride
from spectra.usage.pricing import (
    DEFAULT_WEB_SEARCH_PER_THOUSAND_USD,
    Price,
    resolve_cache_write_1h,
)
from spectra.workspace import service as workspace_service

ACCOUNT_PREFIX = "@"
"""An override named `@<account id>/<model>` prices `model` only when that pool account serves
it (by id, so renaming the account keeps its price; plain model names may not start with `@`)."""


def account_key(account: uuid.UUID | str, model: str) -> str:
    """The override name for `model` served by the pool account `account` (its id)."""
    return f"{ACCOUNT_PREFIX}{str(account).strip().lower()}/{model.strip().lower()}"


def split_account_key(name: str) -> tuple[str | None, str]:
    """`(account id, model)` of an override name; the account is None for a plain one."""
    if not name.startswith(ACCOUNT_PREFIX) or "/" not in name:
        return None, name
    account, _, model = name[len(ACCOUNT_PREFIX) :].partition("/")
    return account, model


MAX_PRICES = 4096
"""Built `Price` objects kept by a `PriceTable` (it starts over beyond that)."""


@dataclass(frozen=True, slots=True)
class OverrideView:
    """A detached copy of one override row (the table never holds ORM objects)."""

    model: str
    effective_from: datetime
    created_at: datetime
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    version_id: str
    cache_write_1h: Decimal | None = None
    """None on rows older than the column: 2x input (`pricing.resolve_cache_write_1h`)."""
    web_search: Decimal | None = None
    """Per thousand calls; None on older rows: the default converted (`PriceTable.price_for`)."""

    @classmethod
    def of(cls, row: PriceOverride) -> OverrideView:
        return cls(
            model=row.model,
            effective_from=row.effective_from,
            created_at=row.created_at,
            input=row.input_price,
            output=row.output_price,
            cache_read=row.cache_read_price,
            cache_write=row.cache_write_price,
            version_id=row.version_id,
            cache_write_1h=row.cache_write_1h_price,
            web_search=row.web_search_price,
        )

    def price(self, model: str, *, web_search_default: Decimal) -> Price:
        return Price(
            model=model,
            input=self.input,
            output=self.output,
            cache_read=self.cache_read,
            cache_write=self.cache_write,
            version_id=self.version_id,
            cache_write_1h=resolve_cache_write_1h(self.input, self.cache_write_1h),
            web_search=web_search_default if self.web_search is None else self.web_search,
        )


@dataclass(slots=True)
class _History:
    starts: list[datetime] = field(default_factory=list)
    rows: list[OverrideView] = field(default_factory=list)

    def at(self, when: datetime) -> OverrideView | None:
        index = bisect.bisect_right(self.starts, when) - 1
        return self.rows[index] if index >= 0 else None


class PriceTable:
    """Prices by model and time: the admin override in force, else the genai-prices default."""

    def __init__(self) -> None:
        self.currency = "USD"
        self.usd_rate = Decimal(1)
        self._overrides: dict[str, _History] = {}
        self._prices: dict[tuple[object, str], Price] = {}
        """Built prices by (id of an override row, or a genai-prices default; model name): a price version
        is immutable, so the hot path builds and validates each `Price` once. Emptied by
        `replace` (new rows, or a new currency or rate)."""

    def replace(
        self, overrides: Iterable[PriceOverride], *, currency: str, usd_rate: Decimal
    ) -> None:
        """Swap in a fresh view (built aside, then assigned, so readers never see half of it)."""
        fresh: dict[str, _History] = {}
        views = sorted(
            (OverrideView.of(r) for r in overrides),
            key=lambda v: (v.model, v.effective_from, v.created_at),
        )
        for row in views:
            history = fresh.setdefault(row.model, _History())
            history.starts.append(row.effective_from)
            history.rows.append(row)
        self._overrides = fresh
        self.currency = currency
        self.usd_rate = usd_rate
        self._prices = {}

    async def load(self, session: AnySession) -> None:
        """Read overrides and the currency settings from the database."""
        settings = await workspace_service.get_settings(session)
        rows = await repository.all_overrides(session)
        self.replace(rows, currency=settings.currency, usd_rate=settings.usd_rate_decimal)

    def override_for(
        self,
        model: str,
        at: datetime,
        *,
        provider: str | None = None,
        account: uuid.UUID | str | None = None,
    ) -> OverrideView | None:
        """The override in force for `model` at `at`: by exact name, then its genai-prices id.
        With `provider` (an account kind), an override named `<provider>/<model>` (the price
        on that provider, e.g. `bedrock/claude-sonnet-4-5`) comes first; with `account` (a pool
        account's id), one named `@<account id>/<model>` (`account_key`) comes before that."""
        if account is not None:
            row = self.account_override(account, model, at)
            if row is not None:
                return row
        if provider is not None:
            row = self.override_for(f"{provider}/{model}", at)
            if row is not None:
                return row
        key = model.lower()
        history = self._overrides.get(key)
        row = history.at(at) if history is not None else None
        if row is not None:
            return row
        canonical = defaults.canonical_model(key)
        if canonical is not None and canonical != key:
            history = self._overrides.get(canonical)
            if history is not None:
                return history.at(at)
        return None

    def account_override(
        self, account: uuid.UUID | str, model: str, at: datetime
    ) -> OverrideView | None:
        """The override for `model` (or its genai-prices id) when the pool account `account`
        (its id) serves it, in force at `at`; None when that account has none."""
        canonical = defaults.canonical_model(model.lower())
        for name in dict.fromkeys((model, canonical or model)):
            history = self._overrides.get(account_key(account, name))
            row = history.at(at) if history is not None else None
            if row is not None:
                return row
        return None

    def price_for(
        self,
        model: str,
        at: datetime,
        *,
        provider: str | None = None,
        account: uuid.UUID | str | None = None,
    ) -> Price | None:
        """The price of `model` at `at`: override in force, else the genai-prices default, else
        None. `provider` (the serving account's kind) picks that provider's prices, `account`
        (the serving account's id) that account's override before them."""
        source: OverrideView | defaults.DefaultPrice | None
        source = self.override_for(model, at, provider=provider, account=account)
        if source is None:
            source = defaults.default_price(model, at, provider=provider)
            if source is None:
                return None
        prices = self._prices
        # An override row lives as long as the cache (both are replaced together): its id
        # names it; a genai-prices default is a fresh value each time: it names itself.
        slot = (id(source) if isinstance(source, OverrideView) else source, model)
        price = prices.get(slot)
        if price is None:
            if len(prices) >= MAX_PRICES:
                prices.clear()
            if isinstance(source, OverrideView):
                price = source.price(model, web_search_default=self.default_web_search())
            else:
                price = source.in_currency(model, currency=self.currency, usd_rate=self.usd_rate)
            prices[slot] = price
        return price

    def default_web_search(self) -> Decimal:
        """The default web search fee per thousand calls in the workspace currency."""
        return self.web_search_default(self.currency, self.usd_rate)

    @staticmethod
    def web_search_default(currency: str, usd_rate: Decimal) -> Decimal:
        rate = Decimal(1) if currency.upper() == "USD" else usd_rate
        return DEFAULT_WEB_SEARCH_PER_THOUSAND_USD * rate

    def require_price(
        self,
        model: str,
        at: datetime,
        *,
        provider: str | None = None,
        account: uuid.UUID | str | None = None,
    ) -> Price:
        """Like `price_for`, but an unpriced model raises `ModelUnpricedError` (`model_unpriced`)."""
        price = self.price_for(model, at, provider=provider, account=account)
        if price is None:
            raise ModelUnpricedError.for_model(model)
        return price

    def overridden_models(self) -> list[str]:
        return sorted(self._overrides)


price_table = PriceTable()
"""This process's price table (installed by `usage.wiring`)."""
