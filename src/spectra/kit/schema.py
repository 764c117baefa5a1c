"""Pydantic building blocks shared by every domain's schemas: exact money in and out, and the
base of read models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic_core import PydanticUndefined

from spectra.errors import InvalidAmountError
from spectra.kit.money import AMOUNT_PATTERN, Micros, format_amount, micros_of, parse_amount


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


def _amount_out(value: Any) -> Any:
    # A read model is built from micros (a row) or from the exact string it wrote (its own JSON).
    return micros_of(value) if isinstance(value, str) else value


AmountOut = Annotated[
    int,
    BeforeValidator(_amount_out),
    PlainSerializer(format_amount, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["12.50"]}),
]
"""Micros serialised as an exact decimal string; pair it with a plain `<name>_micros: int` field
through `money_pair`."""


def money_pair(name: str) -> Any:
    """The display half of a money pair in a read model, filled from the same micros:

        balance: AmountOut = money_pair("balance")
        balance_micros: int

    gives `{"balance": "12.50", "balance_micros": 12500000}` from a row's `balance_micros`
    (or from that JSON read back). Formatting is `kit.money.format_amount`, the one rule."""
    return Field(validation_alias=AliasChoices(name, f"{name}_micros"))


def money(name: str, micros: int) -> dict[str, Any]:
    """`{"balance": "12.50", "balance_micros": 12500000}` for a JSON answer."""
    return {name: format_amount(micros), f"{name}_micros": micros}


class ReadModel(BaseModel):
    """A read answer, validated from a row or a domain object (`XRead.model_validate(row)`).
    Every field is in every answer, so the document marks each one required."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )


def renamed(source: str, name: str, *, default: Any = PydanticUndefined) -> Any:
    """A read-model field whose source attribute has another name or sits further down:
    `renamed("requested_by_label", "requested_by")`, `renamed("assignment.status", "status")`,
    `renamed("problems.0", "first_problem", default=None)` (`default` when the path is absent).
    The answer's own JSON still reads back by `name`."""
    head, *rest = source.split(".")
    first: str | AliasPath = (
        AliasPath(head, *(int(p) if p.isdigit() else p for p in rest)) if rest else source
    )
    return Field(default=default, validation_alias=AliasChoices(first, name))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


IsoTime = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A time written as `datetime.isoformat()` ("+00:00", never "Z"), as the report views write
their times."""


class ViewRead(ReadModel):
    """A read answer validated from a domain's JSON view (a dict). Every key the view writes must
    be a field (`extra="forbid"`), so the OpenAPI document cannot miss one."""

    model_config = ConfigDict(
        from_attributes=True, extra="forbid", json_schema_serialization_defaults_required=True
    )
