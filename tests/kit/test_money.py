from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spectra.errors import InvalidAmountError
from spectra.kit.money import display, format_amount, parse_amount, round_micros, units_to_micros


class TestParseAmount:
    @pytest.mark.parametrize(
        ("text", "micros"),
        [("12.50", 12_500_000), ("0.000001", 1), ("1", 1_000_000), ("300", 300_000_000), ("1.500000", 1_500_000)],
    )
    def test_exact_decimal_strings_become_micros(self, text: str, micros: int) -> None:
        assert parse_amount(text) == micros

    def test_more_than_six_decimals_is_refused_not_rounded(self) -> None:
        with pytest.raises(InvalidAmountError, match="more than 6 decimals"):
            parse_amount("0.0000001")

    @pytest.mark.parametrize("text", ["abc", "", "1e", "NaN", "Infinity", "1,5"])
    def test_garbage_is_refused(self, text: str) -> None:
        with pytest.raises(InvalidAmountError):
            parse_amount(text)

    def test_zero_and_negative_need_permission(self) -> None:
        with pytest.raises(InvalidAmountError, match="greater than zero"):
            parse_amount("0")
        with pytest.raises(InvalidAmountError, match="negative"):
            parse_amount("-1", allow_zero=True)
        assert parse_amount("-1.25", allow_negative=True) == -1_250_000


class TestFormat:
    @pytest.mark.parametrize(
        ("micros", "text"),
        [(12_500_000, "12.50"), (1, "0.000001"), (0, "0.00"), (-1_250_000, "-1.25"), (1_234_567, "1.234567")],
    )
    def test_format_is_exact(self, micros: int, text: str) -> None:
        assert format_amount(micros) == text

    @given(st.integers(min_value=-(10**15), max_value=10**15))
    def test_format_then_parse_round_trips(self, micros: int) -> None:
        assert parse_amount(format_amount(micros), allow_zero=True, allow_negative=True) == micros

    def test_display_uses_the_currency(self) -> None:
        assert display(20_000_000, "USD") == "$20.00"
        assert display(-5_000_000, "EUR") == "-€5.00"
        assert display(5_000_000, "CHF") == "5.00 CHF"


class TestRounding:
    def test_half_up_once(self) -> None:
        assert round_micros(Decimal("2.5")) == 3
        assert round_micros(Decimal("2.4999")) == 2
        assert round_micros(Decimal("-2.5")) == -3
        assert units_to_micros(Decimal("0.0000015")) == 2
