"""Money: integer micro-units, exact parsing and display, and THE rounding rule.

1 currency unit = 1,000,000 micros. Amounts cross the API and the command line as exact
decimal strings in currency units ("12.50"); more than six decimals is an error, never a
rounding. The only rounding in Spectra is `round_micros` (half up, once per request).

A money string matches `AMOUNT_PATTERN` exactly: ASCII digits, an optional leading minus, an
optional point with one to six decimals; no sign "+", no exponent, no padding, no other digits.
Every amount is at most `MAX_AMOUNT_MICROS` (10^15 micros = 10^9 units) in size, and no balance
may leave ±`MAX_BALANCE_MICROS` (2^62), well inside the 64-bit integer the database stores.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import NewType

from spectra.errors import AmountOutOfRangeError, InvalidAmountError

Micros = NewType("Micros", int)

MICROS_PER_UNIT = 1_000_000
_MAX_DECIMALS = 6
AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]{1,6})?$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN.strip("^$"), re.ASCII)
_TOO_PRECISE_RE = re.compile(r"-?[0-9]+\.[0-9]{7,}", re.ASCII)
MAX_AMOUNT_MICROS = 10**15
"""The largest amount (in size) of one posting, recharge, adjustment, code batch or price."""
MAX_BALANCE_MICROS = 2**62
"""No posting may take a balance beyond plus or minus this (int64 holds 2^63 - 1)."""


def parse_amount(
    text: str | int | Decimal,
    *,
    allow_zero: bool = False,
    allow_negative: bool = False,
    field: str = "amount",
) -> Micros:
    """Parse a decimal amount in currency units into micros, exactly.

    A string must match `AMOUNT_PATTERN` as it is (no trimming); an int or a finite Decimal
    (from code, never from a request) is taken at its exact value."""
    if isinstance(text, bool) or not isinstance(text, str | int | Decimal):
        raise InvalidAmountError(f'{field} must be a decimal string such as "12.50".', field=field)
    if isinstance(text, Decimal) and not text.is_finite():
        raise InvalidAmountError(f"{field} must be a finite decimal amount.", field=field)
    raw = format(text, "f") if isinstance(text, Decimal) else str(text)
    if _TOO_PRECISE_RE.fullmatch(raw):
        raise InvalidAmountError(
            f"{field} '{raw[:40]}' has more than {_MAX_DECIMALS} decimals; amounts are exact to the micro-unit.",
            field=field,
        )
    if _AMOUNT_RE.fullmatch(raw) is None:
        raise InvalidAmountError(
            f"{field} '{raw[:40]}' is not a decimal amount; write it like \"12.50\".", field=field
        )
    value = Decimal(raw)
    if abs(value) > Decimal(MAX_AMOUNT_MICROS).scaleb(-_MAX_DECIMALS):
        raise AmountOutOfRangeError(
            f"{field} '{raw[:40]}' is too large; an amount is at most {format_amount(MAX_AMOUNT_MICROS)}.",
            field=field,
            max=format_amount(MAX_AMOUNT_MICROS),
        )
    micros = int(value.scaleb(_MAX_DECIMALS))
    if micros == 0 and not allow_zero:
        raise InvalidAmountError(f"{field} must be greater than zero.", field=field)
    if micros < 0 and not allow_negative:
        raise InvalidAmountError(f"{field} must not be negative.", field=field)
    return Micros(micros)


def micros_of(text: str) -> Micros:
    """The micros an exact amount string stands for: the inverse of `format_amount`, for reading
    back what Spectra wrote (no range or sign rule; a request's amount goes through `parse_amount`)."""
    if _AMOUNT_RE.fullmatch(text) is None:
        raise InvalidAmountError(f"'{text[:40]}' is not a decimal amount such as \"12.50\".")
    return Micros(int(Decimal(text).scaleb(_MAX_DECIMALS)))


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
