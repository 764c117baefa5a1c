from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spectra.kit.ids import uuid7
from spectra.usage.errors import ModelUnpricedError
from spectra.usage.models import PriceOverride
from spectra.usage.table import PriceTable

NOW = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)


def _override(model: str, input_price: str, *, at: datetime) -> PriceOverride:
    return PriceOverride(
        id=uuid7(),
        model=model,
        input_price=Decimal(input_price),
        output_price=Decimal(10),
        cache_read_price=Decimal("0.1"),
        cache_write_price=Decimal("1.25"),
        currency="USD",
        effective_from=at,
        created_at=at,
        created_by="test",
    )


class TestPriceFor:
    def test_default_comes_from_genai_prices(self) -> None:
        table = PriceTable()
        price = table.price_for("claude-sonnet-4-6", NOW)
        assert price is not None
        assert (price.input, price.output, price.cache_read, price.cache_write) == (
            Decimal(3),
            Decimal(15),
            Decimal("0.3"),
            Decimal("3.75"),
        )
        assert price.version_id.startswith("genai-prices@")

    def test_dated_variant_matches_its_model(self) -> None:
        price = PriceTable().price_for("claude-sonnet-4-5-20250929", NOW)
        assert price is not None
        assert price.model == "claude-sonnet-4-5-20250929"
        assert price.version_id.endswith("anthropic/claude-sonnet-4-5")

    def test_openai_without_cache_write_price_uses_the_input_price(self) -> None:
        price = PriceTable().price_for("gpt-4o", NOW)
        assert price is not None
        assert price.cache_write == price.input
        assert price.cache_read == Decimal("1.25")

    def test_unknown_model_has_no_price(self) -> None:
        assert PriceTable().price_for("my-local-llama", NOW) is None

    def test_require_price_refuses_with_model_unpriced(self) -> None:
        with pytest.raises(ModelUnpricedError) as info:
            PriceTable().require_price("my-local-llama", NOW)
        assert info.value.code == "model_unpriced"
        assert "spectra prices set my-local-llama --input" in info.value.message

    def test_default_is_converted_at_the_usd_rate(self) -> None:
        table = PriceTable()
        table.replace([], currency="EUR", usd_rate=Decimal("0.92"))
        price = table.price_for("claude-sonnet-4-6", NOW)
        assert price is not None
        assert price.input == Decimal("2.76")
        assert price.version_id.endswith("@EUR0.92")

    def test_override_takes_effect_at_its_time(self) -> None:
        table = PriceTable()
        later = NOW + timedelta(days=1)
        table.replace(
            [
                _override("claude-sonnet-4-6", "2", at=NOW - timedelta(days=1)),
                _override("claude-sonnet-4-6", "1", at=later),
            ],
            currency="USD",
            usd_rate=Decimal(1),
        )
        assert table.price_for("claude-sonnet-4-6", NOW).input == Decimal(2)  # type: ignore[union-attr]
        assert table.price_for("claude-sonnet-4-6", later).input == Decimal(1)  # type: ignore[union-attr]
        before = table.price_for("claude-sonnet-4-6", NOW - timedelta(days=2))
        assert before is not None
        assert before.version_id.startswith("genai-prices@")

    def test_override_on_a_model_prices_its_dated_variants(self) -> None:
        table = PriceTable()
        row = _override("claude-sonnet-4-5", "2", at=NOW - timedelta(hours=1))
        table.replace([row], currency="USD", usd_rate=Decimal(1))
        price = table.price_for("claude-sonnet-4-5-20250929", NOW)
        assert price is not None
        assert price.version_id == f"override:{row.id}"

    def test_override_prices_an_unknown_model(self) -> None:
        table = PriceTable()
        table.replace(
            [_override("my-local-llama", "0.5", at=NOW)], currency="USD", usd_rate=Decimal(1)
        )
        assert table.price_for("My-Local-Llama", NOW) is not None
        assert table.price_for("my-local-llama", NOW - timedelta(seconds=1)) is None
