from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spectra.kit.ids import uuid7
from spectra.usage.errors import ModelUnpricedError
from spectra.usage.models import PriceOverride
from spectra.usage.table import PriceTable, account_key, split_account_key

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


class TestPricesFollowTheProvider:
    """The same model costs what the serving provider charges (genai-prices per provider)."""

    def test_bedrock_charges_its_regional_price(self) -> None:
        table = PriceTable()
        direct = table.price_for("claude-sonnet-4-5", NOW)
        on_bedrock = table.price_for("claude-sonnet-4-5", NOW, provider="bedrock")
        assert direct is not None
        assert on_bedrock is not None
        assert (on_bedrock.input, on_bedrock.output) == (Decimal("3.3"), Decimal("16.5"))
        assert (on_bedrock.cache_read, on_bedrock.cache_write) == (
            Decimal("0.33"),
            Decimal("4.125"),
        )
        assert on_bedrock.input > direct.input
        assert "aws/" in on_bedrock.version_id
        by_id = table.price_for(
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0", NOW, provider="bedrock"
        )
        assert by_id is not None
        assert by_id.input == on_bedrock.input

    def test_vertex_and_gemini_use_google_prices_with_their_tiers(self) -> None:
        table = PriceTable()
        vertex = table.price_for("claude-sonnet-4-5@20250929", NOW, provider="vertex")
        assert vertex is not None
        assert "google/claude-sonnet-4-5" in vertex.version_id
        gemini = table.price_for("gemini-2.5-pro", NOW, provider="gemini")
        assert gemini is not None
        assert (gemini.input, gemini.output, gemini.cache_read) == (
            Decimal("1.25"),
            Decimal(10),
            Decimal("0.125"),
        )
        assert [t.above for t in gemini.tiers] == [200000]

    def test_a_model_the_provider_does_not_list_falls_back(self) -> None:
        table = PriceTable()
        azure = table.price_for("gpt-4o", NOW, provider="azure_openai")
        openai = table.price_for("gpt-4o", NOW)
        assert azure is not None
        assert openai is not None
        assert azure.version_id == openai.version_id

    def test_a_provider_override_wins_for_that_provider_only(self) -> None:
        table = PriceTable()
        table.replace(
            [_override("bedrock/claude-sonnet-4-5", "2.5", at=NOW - timedelta(days=1))],
            currency="USD",
            usd_rate=Decimal(1),
        )
        on_bedrock = table.require_price("claude-sonnet-4-5", NOW, provider="bedrock")
        assert on_bedrock.input == Decimal("2.5")
        direct = table.require_price("claude-sonnet-4-5", NOW)
        assert direct.input == Decimal(3)
        on_vertex = table.require_price("claude-sonnet-4-5", NOW, provider="vertex")
        assert on_vertex.input == Decimal(3)

    def test_an_account_override_wins_for_that_account_only(self) -> None:
        table = PriceTable()
        day = NOW - timedelta(days=1)
        ours, theirs = uuid.uuid4(), uuid.uuid4()
        table.replace(
            [
                _override("bedrock/claude-sonnet-4-5", "2.5", at=day),
                _override("claude-sonnet-4-5", "2.8", at=day),
                _override(account_key(ours, "Claude-Sonnet-4-5"), "1.9", at=day),
            ],
            currency="USD",
            usd_rate=Decimal(1),
        )
        assert account_key(ours, "Claude-Sonnet-4-5") == f"@{ours}/claude-sonnet-4-5"
        mine = table.require_price("claude-sonnet-4-5", NOW, provider="bedrock", account=ours)
        assert mine.input == Decimal("1.9")
        # Its dated variant too, as for a plain override.
        dated = table.require_price("claude-sonnet-4-5-20250929", NOW, account=ours)
        assert dated.input == Decimal("1.9")
        other = table.require_price("claude-sonnet-4-5", NOW, provider="bedrock", account=theirs)
        assert other.input == Decimal("2.5")
        assert table.require_price("claude-sonnet-4-5", NOW, account=theirs).input == Decimal("2.8")
        assert table.account_override(theirs, "claude-sonnet-4-5", NOW) is None
        assert split_account_key(f"@{ours}/claude-sonnet-4-5") == (str(ours), "claude-sonnet-4-5")
        assert split_account_key("bedrock/claude-sonnet-4-5") == (
            None,
            "bedrock/claude-sonnet-4-5",
        )


class TestBuiltPricesAreKept:
    """A price version is built once; a new version, currency or rate is seen at once."""

    def test_the_same_version_is_the_same_object(self) -> None:
        table = PriceTable()
        table.replace([_override("gpt-5", "2", at=NOW)], currency="USD", usd_rate=Decimal(1))
        first = table.require_price("gpt-5", NOW)
        assert table.require_price("gpt-5", NOW) is first
        assert table.require_price("claude-sonnet-4-6", NOW) is table.require_price(
            "claude-sonnet-4-6", NOW
        )

    def test_a_later_override_is_priced_from_its_start(self) -> None:
        table = PriceTable()
        rows = [
            _override("gpt-5", "2", at=NOW - timedelta(days=1)),
            _override("gpt-5", "4", at=NOW + timedelta(hours=1)),
        ]
        table.replace(rows, currency="USD", usd_rate=Decimal(1))
        assert table.require_price("gpt-5", NOW).input == Decimal(2)
        assert table.require_price("gpt-5", NOW + timedelta(hours=2)).input == Decimal(4)
        assert table.require_price("gpt-5", NOW).input == Decimal(2)

    def test_replacing_the_rows_or_the_rate_rebuilds(self) -> None:
        table = PriceTable()
        table.replace([_override("gpt-5", "2", at=NOW)], currency="USD", usd_rate=Decimal(1))
        old = table.require_price("gpt-5", NOW)
        table.replace([_override("gpt-5", "3", at=NOW)], currency="USD", usd_rate=Decimal(1))
        assert table.require_price("gpt-5", NOW).input == Decimal(3)
        assert old.input == Decimal(2)
        default_usd = table.require_price("claude-sonnet-4-6", NOW)
        table.replace([], currency="EUR", usd_rate=Decimal("0.5"))
        default_eur = table.require_price("claude-sonnet-4-6", NOW)
        assert default_eur.input == default_usd.input * Decimal("0.5")
        assert default_eur.version_id != default_usd.version_id
