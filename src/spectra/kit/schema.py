"""Pydantic building blocks shared by every domain's schemas: exact money in and out."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from spectra.errors import InvalidAmountError
from spectra.kit.money import AMOUNT_PATTERN, Micros, format_amount, parse_amount


def _text(value: Any) -> str:
    # Only a JSON string is money: a JSON number (1e3, 12.5) is refused, never converted.
    if not isinstance(value, str):
        raise InvalidAmountError('An amount is a decimal string such as "12.50", not a number.')
    return value


def _amount_in(value: Any) -> int:
    return parse_amount(_text(value))


def _signed_in(value: Any) -> int:
    return parse_amount(_text(value), allow_zero=True, allow_negative=True)


def _nonneg_in(value: Any) -> int:
    return parse_amount(_text(value), allow_zero=True)


_AMOUNT_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["12.50"]}
)

AmountIn = Annotated[Micros, BeforeValidator(_amount_in), _AMOUNT_SCHEMA]
"""A positive amount in currency units ("12.50"), parsed exactly into micros; >6 decimals is a 422."""
SignedAmountIn = Annotated[Micros, BeforeValidator(_signed_in), _AMOUNT_SCHEMA]
NonNegativeAmountIn = Annotated[Micros, BeforeValidator(_nonneg_in), _AMOUNT_SCHEMA]

AmountOut = Annotated[
    int,
    PlainSerializer(format_amount, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["12.50"]}),
]
"""Micros serialised as an exact decimal string; pair it with a plain `<name>_micros: int` field."""


def money(name: str, micros: int) -> dict[str, Any]:
    """`{"balance": "12.50", "balance_micros": 12500000}` for a JSON answer."""
    return {name: format_amount(micros), f"{name}_micros": micros}
