"""Money: integer micro-units, exact parsing and display, and THE rounding rule.

1 currency unit = 1,000,000 micros. Amounts cross the API and the command line as exact
decimal strings in currency units ("12.50"); more than six decimals is an error, never a
rounding. The only rounding in Spectra is `round_micros` (half up, once per request).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NewType

from spectra.errors import InvalidAmountError

Micros = NewType("Micros", int)

MICROS_PER_UNIT = 1_000_000
_MAX_DECIMALS = 6
_MAX_ABS_MICROS = 10**18


def parse_amount(
    text: str | int | Decimal,
    *,
    allow_zero: bool = False,
    allow_negative: bool = False,
    field: str = "amount",
) -> Micros:
    """Parse a decimal amount in currency units into micros, exactly."""
    if isinstance(text, bool):
        raise InvalidAmountError(f'{field} must be a decimal string such as "12.50".', field=field)
    raw = str(text).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidAmountError(
            f"{field} '{raw}' is not a decimal amount; write it like \"12.50\".", field=field
        ) from None
    if not value.is_finite():
        raise InvalidAmountError(f"{field} must be a finite decimal amount.", field=field)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -_MAX_DECIMALS and value != value.quantize(Decimal(1).scaleb(-_MAX_DECIMALS)):
        raise InvalidAmountError(
            f"{field} '{raw}' has more than {_MAX_DECIMALS} decimals; amounts are exact to the micro-unit.",
            field=field,
        )
    micros = int(value * MICROS_PER_UNIT)
    if abs(micros) > _MAX_ABS_MICROS:
        raise InvalidAmountError(f"{field} '{raw}' is too large.", field=field)
    if micros == 0 and not allow_zero:
        raise InvalidAmountError(f"{field} must be greater than zero.", field=field)
    if micros < 0 and not allow_negative:
        raise InvalidAmountError(f"{field} must not be negative.", field=field)
    return Micros(micros)


def to_decimal(micros: int) -> Decimal:
    """Exact Decimal value in currency units."""
    return Decimal(micros).scaleb(-_MAX_DECIMALS)


def format_amount(micros: int) -> str:
    """Exact decimal string in currency units: at least two decimals, more only when needed."""
    sign = "-" if micros < 0 else ""
    units, frac = divmod(abs(micros), MICROS_PER_UNIT)
    frac_text = f"{frac:06d}".rstrip("0")
    if len(frac_text) < 2:
        frac_text = frac_text.ljust(2, "0")
    return f"{sign}{units}.{frac_text}"


def display(micros: int, currency: str = "USD") -> str:
    """Human display with a currency symbol where one is common ("$12.50", "€3.10", "12.50 CHF")."""
    symbols = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹"}
    text = format_amount(micros)
    symbol = symbols.get(currency.upper())
    if symbol is None:
        return f"{text} {currency.upper()}"
    if text.startswith("-"):
        return f"-{symbol}{text[1:]}"
    return f"{symbol}{text}"


def round_micros(value: Decimal) -> Micros:
    """THE rounding rule: a Decimal amount of micros, rounded once, half up, to an integer."""
    return Micros(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def units_to_micros(value: Decimal) -> Micros:
    """A Decimal amount in currency units to micros, rounded by the one rule."""
    return round_micros(value * MICROS_PER_UNIT)
