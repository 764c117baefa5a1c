"""How a workspace setting's value is read from text and shown again. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from spectra.errors import InvalidError
from spectra.kit.money import format_amount, parse_amount


class InvalidSettingError(InvalidError):
    code = "invalid_setting"


def none_or(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if text.strip().lower() in ("", "none", "off", "null"):
            return None
        return fn(text)

    return parse


def amount(text: str) -> int:
    return parse_amount(text, field="value")


def nonnegative_amount(text: str) -> int:
    return parse_amount(text, allow_zero=True, field="value")


def currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise InvalidSettingError(
            f"'{text}' is not a currency code; use three letters such as USD or EUR."
        )
    return code


def time_zone(text: str) -> str:
    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSettingError(
            f"'{text}' is not a time zone; use an IANA name such as Europe/Berlin."
        ) from None
    return name


def rate(text: str) -> str:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidSettingError(f"'{text}' is not a decimal rate such as 0.92.") from None
    if not value.is_finite() or value <= 0:
        raise InvalidSettingError("The rate must be a positive decimal number.")
    return str(value)


_MAX_INT_SETTING = 100_000_000


def positive_int(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", text.strip(), re.ASCII):
        raise InvalidSettingError(f"'{text[:40]}' is not a whole number of at most 10 digits.")
    value = int(text.strip())
    if not 0 < value <= _MAX_INT_SETTING:
        raise InvalidSettingError(f"The value must be a whole number from 1 to {_MAX_INT_SETTING}.")
    return value


def _at_most(limit: int, message: str) -> Callable[[str], int]:
    """A positive whole number no larger than `limit` (`message` says why when it is)."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > limit:
            raise InvalidSettingError(message)
        return value

    return parse


window_hours = _at_most(24 * 366, "The window is at most 8784 hours (a year).")
days_ahead = _at_most(366, "The horizon is at most 366 days (a year).")
minutes = _at_most(24 * 60, "At most 1440 minutes (a day).")
port = _at_most(65535, "A port is a number from 1 to 65535.")


def _switch(answer: str) -> Callable[[str], bool]:
    """On/off words (true, yes, 1 / false, no, 0); `answer` names the pair in the error."""

    def parse(text: str) -> bool:
        value = text.strip().lower()
        if value in ("on", "true", "yes", "1"):
            return True
        if value in ("off", "false", "no", "0"):
            return False
        raise InvalidSettingError(f"'{text[:40]}' is not {answer}.")

    return parse


flag = _switch("on or off")
boolean = _switch("true or false")


def show_flag(value: Any) -> str:
    return "on" if value else "off"


def url(text: str) -> str:
    parsed = urlparse(text.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidSettingError(f"'{text}' is not an http(s) URL.")
    return text.strip()


def one_line(text: str) -> str:
    value = text.strip()
    if len(value) > 300 or any(c in value for c in "\r\n"):
        raise InvalidSettingError("The value must be one line of at most 300 characters.")
    return value


def percents(text: str) -> str:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(re.fullmatch(r"[0-9]{1,4}", p) for p in parts):
        raise InvalidSettingError("Give percents separated by commas, such as 50,80,100.")
    values = sorted({int(p) for p in parts})
    if values[0] < 1 or values[-1] > 1000:
        raise InvalidSettingError("Each percent is from 1 to 1000.")
    return ",".join(str(v) for v in values)


def digest(text: str) -> str:
    value = text.strip().lower()
    if value not in ("daily", "weekly"):
        raise InvalidSettingError("The digest is daily, weekly or none.")
    return value


def show_secret(value: Any) -> str:
    return "none" if value is None else "set"


def show_amount(value: Any) -> str:
    return "none" if value is None else format_amount(value)


def show_plain(value: Any) -> str:
    return "none" if value is None else str(value)
