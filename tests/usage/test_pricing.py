from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import genai_prices
import pytest
from genai_prices import calc_price
from hypothesis import given
from hypothesis import strategies as st

from spectra.providers.types import cache_writes
from spectra.usage.defaults import default_price
from spectra.usage.pricing import (
    Price,
    PriceTier,
    TokenUsage,
    cost_micros,
    exact_cost_micros,
    resolve_cache_prices,
)

tokens = st.integers(min_value=0, max_value=5_000_000)
prices = st.decimals(
    min_value=Decimal(0), max_value=Decimal(1000), places=6, allow_nan=False, allow_infinity=False
)


def _price(i: Decimal, o: Decimal, r: Decimal, w: Decimal) -> Price:
    return Price(model="m", input=i, output=o, cache_read=r, cache_write=w, version_id="v")


def _reference(usage: TokenUsage, price: Price) -> int:
    exact = (
        Fraction(usage.input_tokens) * Fraction(price.input)
        + Fraction(usage.output_tokens) * Fraction(price.output)
        + Fraction(usage.cache_read_tokens) * Fraction(price.cache_read)
        + Fraction(usage.cache_write_tokens) * Fraction(price.cache_write)
    )  # units per million tokens x tokens = micros
    floor = exact.numerator // exact.denominator
    return floor + (1 if exact - floor >= Fraction(1, 2) else 0)


class TestCostMicros:
    @given(tokens, tokens, tokens, tokens, prices, prices, prices, prices)
    def test_cost_is_exact_and_rounded_half_up_once(
        self, ti: int, to: int, tr: int, tw: int, pi: Decimal, po: Decimal, pr: Decimal, pw: Decimal
    ) -> None:
        usage = TokenUsage(ti, to, tr, tw)
        price = _price(pi, po, pr, pw)
        exact = exact_cost_micros(usage, price)
        assert Fraction(exact) == (
            Fraction(ti) * Fraction(pi)
            + Fraction(to) * Fraction(po)
            + Fraction(tr) * Fraction(pr)
            + Fraction(tw) * Fraction(pw)
        )
        assert cost_micros(usage, price) == _reference(usage, price)

    @given(st.lists(st.tuples(tokens, prices), min_size=2, max_size=4))
    def test_rounding_happens_once_not_per_class(self, parts: list[tuple[int, Decimal]]) -> None:
        # Summing per-class rounded costs may differ; the one rounding is of the exact sum.
        names = ["input", "output", "cache_read", "cache_write"]
        values = {n: Decimal(0) for n in names}
        counts = dict.fromkeys(names, 0)
        for name, (count, unit_price) in zip(names, parts, strict=False):
            values[name] = unit_price
            counts[name] = count
        usage = TokenUsage(
            counts["input"], counts["output"], counts["cache_read"], counts["cache_write"]
        )
        price = _price(
            values["input"], values["output"], values["cache_read"], values["cache_write"]
        )
        exact = sum(Fraction(counts[n]) * Fraction(values[n]) for n in names)
        charged = Fraction(cost_micros(usage, price))
        # Within half a micro of the exact total, and never more than the exact total + 1/2:
        # per-class rounding could drift by up to 2 micros over four classes.
        assert -Fraction(1, 2) < charged - exact <= Fraction(1, 2)

    def test_half_a_micro_rounds_up(self) -> None:
        # 1 token at 0.5 per million = 0.5 micros -> 1 micro.
        price = _price(Decimal("0.5"), Decimal(0), Decimal(0), Decimal(0))
        assert cost_micros(TokenUsage(input_tokens=1), price) == 1

    def test_per_class_rounding_would_charge_differently(self) -> None:
        # Each class alone is 0.4 micros (rounds to 0); together 1.6 micros -> 2.
        price = _price(Decimal("0.4"), Decimal("0.4"), Decimal("0.4"), Decimal("0.4"))
        usage = TokenUsage(1, 1, 1, 1)
        assert cost_micros(usage, price) == 2

    def test_a_claude_code_turn_costs_what_the_price_sheet_says(self) -> None:
        price = _price(Decimal(3), Decimal(15), Decimal("0.3"), Decimal("3.75"))
        usage = TokenUsage(
            input_tokens=12, output_tokens=345, cache_read_tokens=20_000, cache_write_tokens=1_500
        )
        # 12*3 + 345*15 + 20000*0.3 + 1500*3.75 = 36 + 5175 + 6000 + 5625 = 16836 micros
        assert cost_micros(usage, price) == 16_836

    def test_prices_with_many_decimals_stay_exact(self) -> None:
        price = _price(Decimal("0.0346296123456789"), Decimal(0), Decimal(0), Decimal(0))
        usage = TokenUsage(input_tokens=987_654_321)
        exact = Fraction(987_654_321) * Fraction(Decimal("0.0346296123456789"))
        assert exact_cost_micros(usage, price) == Decimal(exact.numerator) / Decimal(
            exact.denominator
        )


class TestTokenUsage:
    def test_negative_tokens_are_refused(self) -> None:
        with pytest.raises(ValueError, match="input_tokens"):
            TokenUsage(input_tokens=-1)

    def test_total(self) -> None:
        assert TokenUsage(1, 2, 3, 4).total_tokens == 10


class TestPrice:
    def test_negative_price_is_refused(self) -> None:
        with pytest.raises(ValueError, match="output"):
            _price(Decimal(1), Decimal(-1), Decimal(0), Decimal(0))


class TestResolveCachePrices:
    def test_missing_cache_prices_are_the_input_price(self) -> None:
        assert resolve_cache_prices(Decimal(2), None, None) == (Decimal(2), Decimal(2))

    def test_given_cache_prices_are_kept(self) -> None:
        assert resolve_cache_prices(Decimal(2), Decimal("0.2"), Decimal("2.5")) == (
            Decimal("0.2"),
            Decimal("2.5"),
        )


class TestLongContextTiers:
    """Tiered ("cliff") prices: above the threshold, every token of the request costs the tier's price."""

    SONNET_AT = datetime(2026, 11, 1, tzinfo=UTC)

    def _sonnet(self) -> Price:
        found = default_price("claude-sonnet-4-5", self.SONNET_AT)
        assert found is not None
        assert found.tiers, "genai-prices prices Sonnet 4.5 in tiers"
        return found.in_currency("claude-sonnet-4-5", currency="USD", usd_rate=Decimal(1))

    def test_the_threshold_is_on_the_whole_prompt_and_is_exclusive(self) -> None:
        price = self._sonnet()
        (tier,) = price.tiers
        at = TokenUsage(input_tokens=tier.above - 1000, cache_read_tokens=1000, output_tokens=10)
        above = TokenUsage(input_tokens=tier.above - 1000, cache_read_tokens=1001, output_tokens=10)
        assert price.rates(at) is price
        assert price.rates(above) is tier
        assert cost_micros(above, price) * 10 > cost_micros(at, price) * 18  # about twice

    @given(
        st.integers(0, 400_000),
        st.integers(0, 50_000),
        st.integers(0, 300_000),
        st.integers(0, 50_000),
    )
    def test_matches_genai_prices_own_calculation(
        self, uncached: int, output: int, read: int, write: int
    ) -> None:
        price = self._sonnet()
        ours = exact_cost_micros(TokenUsage(uncached, output, read, write), price)
        theirs = calc_price(
            genai_prices.Usage(
                input_tokens=uncached + read + write,
                output_tokens=output,
                cache_read_tokens=read,
                cache_write_tokens=write,
            ),
            "claude-sonnet-4-5",
            provider_id="anthropic",
            genai_request_timestamp=self.SONNET_AT,
        ).total_price
        assert Fraction(ours) == Fraction(theirs) * 1_000_000

    def test_a_missing_cache_price_follows_the_tier_input_price(self) -> None:
        found = default_price("gpt-5.4-pro", self.SONNET_AT)
        if found is None or not found.tiers or found.cache_read is not None:
            pytest.skip("genai-prices no longer prices gpt-5.4-pro in tiers without cache prices")
        (tier,) = found.tiers
        assert tier.cache_read == tier.input
        assert tier.input > found.input

    def test_tiers_convert_with_the_currency(self) -> None:
        found = default_price("claude-sonnet-4-5", self.SONNET_AT)
        assert found is not None
        eur = found.in_currency("claude-sonnet-4-5", currency="EUR", usd_rate=Decimal("0.9"))
        assert eur.tiers[0].output == found.tiers[0].output * Decimal("0.9")

    def test_tiers_must_ascend(self) -> None:
        tier = PriceTier(above=10, input=D1, output=D1, cache_read=D1, cache_write=D1)
        with pytest.raises(ValueError, match="ascending"):
            Price(
                model="m",
                input=D1,
                output=D1,
                cache_read=D1,
                cache_write=D1,
                version_id="v",
                tiers=(tier, tier),
            )


D1 = Decimal(1)


class TestCacheWriteLifetimesAndWebSearches:
    """1-hour writes are a part of all writes, priced apart; web searches per thousand calls."""

    AT = datetime(2026, 11, 1, tzinfo=UTC)

    def _sonnet(self) -> Price:
        found = default_price("claude-sonnet-4-5", self.AT)
        assert found is not None
        return found.in_currency("claude-sonnet-4-5", currency="USD", usd_rate=Decimal(1))

    @given(
        st.integers(0, 400_000),
        st.integers(0, 50_000),
        st.integers(0, 100_000),
        st.integers(0, 100_000),
        st.integers(0, 50),
    )
    def test_matches_genai_prices_with_one_hour_writes_and_searches(
        self, uncached: int, output: int, five_m: int, one_h: int, searches: int
    ) -> None:
        price = self._sonnet()
        usage = TokenUsage(
            input_tokens=uncached,
            output_tokens=output,
            cache_write_tokens=five_m + one_h,
            cache_write_1h_tokens=one_h,
            web_search_calls=searches,
        )
        theirs = calc_price(
            genai_prices.Usage(
                input_tokens=uncached + five_m + one_h,
                output_tokens=output,
                cache_write_tokens=five_m + one_h,
                cache_write_1h_tokens=one_h,
                web_searches=searches,
            ),
            "claude-sonnet-4-5",
            provider_id="anthropic",
            genai_request_timestamp=self.AT,
        ).total_price
        assert Fraction(exact_cost_micros(usage, price)) == Fraction(theirs) * 1_000_000

    def test_one_hour_writes_cost_twice_input_and_five_minute_ones_one_and_a_quarter(self) -> None:
        price = self._sonnet()
        assert price.write_1h == 2 * price.input
        assert price.cache_write == Decimal("1.25") * price.input
        one_h = TokenUsage(cache_write_tokens=100_000, cache_write_1h_tokens=100_000)
        five_m = TokenUsage(cache_write_tokens=100_000)
        assert cost_micros(one_h, price) == 600_000
        assert cost_micros(five_m, price) == 375_000

    def test_without_a_one_hour_price_it_is_twice_the_tier_input(self) -> None:
        tier = PriceTier(above=10, input=Decimal(4), output=D1, cache_read=D1, cache_write=D1)
        price = Price("m", D1, D1, D1, D1, "v", tiers=(tier,))
        assert price.write_1h == 2
        assert tier.write_1h == 8
        usage = TokenUsage(cache_write_tokens=20, cache_write_1h_tokens=20)
        assert exact_cost_micros(usage, price) == Decimal(20 * 8)

    def test_the_one_hour_part_cannot_exceed_all_writes(self) -> None:
        with pytest.raises(ValueError, match="part of cache_write_tokens"):
            TokenUsage(cache_write_tokens=1, cache_write_1h_tokens=2)

    def test_a_search_alone_is_billable(self) -> None:
        usage = TokenUsage(web_search_calls=1)
        assert usage.billable
        assert usage.total_tokens == 0
        assert cost_micros(usage, _price(D1, D1, D1, D1)) == 10_000  # $10 / 1,000


@pytest.mark.parametrize(
    ("total", "five_m", "one_h", "expected"),
    [
        (None, None, None, (None, 0)),
        (1000, None, None, (1000, 0)),  # no breakdown: all 5-minute writes
        (1000, 200, 300, (1000, 300)),  # the total beyond the breakdown: 5-minute writes
        (100, 200, 300, (500, 300)),  # the breakdown beyond the total: the breakdown
        (None, 0, 400, (400, 400)),
    ],
)
def test_cache_writes_never_charge_less_than_either_report(
    total: int | None, five_m: int | None, one_h: int | None, expected: tuple[int | None, int]
) -> None:
    assert cache_writes(total, five_m, one_h) == expected


def test_list_cost_applies_the_long_context_tier_per_request() -> None:
    """Pool economics' list price: the hour's totals at base rates, plus each request whose own
    prompt crosses a tier at that tier (the tier applied to the hour's totals was the bug)."""
    from spectra.usage.economics import list_cost
    from spectra.workspace.schemas import WorkspaceSettings

    at = datetime(2026, 11, 1, tzinfo=UTC)
    ws = WorkspaceSettings()
    small = TokenUsage(input_tokens=150_000, output_tokens=100)
    big = TokenUsage(input_tokens=250_000, output_tokens=100)
    hour = {
        "input_tokens": 550_000,
        "output_tokens": 300,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "web_search_calls": 0,
    }
    price = default_price("claude-sonnet-4-5", at)
    assert price is not None
    usd = price.in_currency("claude-sonnet-4-5", currency="USD", usd_rate=Decimal(1))
    per_request = 2 * cost_micros(small, usd) + cost_micros(big, usd)
    assert per_request == 2 * (450_000 + 1500) + (1_500_000 + 2250)
    assert list_cost("claude-sonnet-4-5", hour, at, ws, [big]) == per_request
    # Without knowing which request was long, the totals price at base rates only.
    assert list_cost("claude-sonnet-4-5", hour, at, ws) == 550_000 * 3 + 300 * 15
