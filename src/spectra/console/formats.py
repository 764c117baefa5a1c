"""Numbers for people, as Jinja filters: money with the workspace currency's two decimals (the
exact amount on hover), percentages, relative times and short dates (the exact time on hover).

English keeps the console's own forms ("$0.12", "Dec 7", "3 hours ago"); another locale gets
Babel's (Chinese: "US$0.12", "12月7日", "3小时前"). Money is formatted from the exact decimal
string of the micro-units (never a float).

Each answers markup (a `<span>` or `<time>` with a `title`); `money_text` is the plain exact
amount for attributes (a confirmation question) and exports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_skeleton, format_timedelta
from babel.numbers import format_currency, format_decimal
from markupsafe import Markup, escape

from spectra.console.i18n import DEFAULT, _, babel_locale, current_locale
from spectra.kit.clock import utc_now
from spectra.kit.money import MICROS_PER_UNIT, display, format_amount
from spectra.workspace.cache import settings_cache

CENT = MICROS_PER_UNIT // 100
DASH = Markup("—")


def _currency(currency: str | None) -> str:
    return currency or settings_cache.current.currency


def _display(micros: int, currency: str) -> str:
    """The amount with its currency in the request's locale, every digit of the micro-units."""
    locale = current_locale()
    if locale == DEFAULT:
        return display(micros, currency)
    return format_currency(
        Decimal(format_amount(micros)),
        currency.upper(),
        locale=babel_locale(locale),
        decimal_quantization=False,
    )


def money_text(micros: int | None, currency: str | None = None) -> str:
    """The exact amount ("$0.123456"), plain text."""
    return "—" if micros is None else _display(int(micros), _currency(currency))


def money(micros: int | None, currency: str | None = None) -> Markup:
    """Two decimals ("$0.12"); when that rounds, the exact amount is the title."""
    if micros is None:
        return DASH
    exact = _display(int(micros), _currency(currency))
    cents = Decimal(int(micros)) / CENT
    rounded = int(cents.quantize(Decimal(1), rounding=ROUND_HALF_UP)) * CENT
    if rounded == int(micros):
        return Markup(escape(exact))
    shown = _display(rounded, _currency(currency))
    return Markup('<span class="money" title="{}">{}</span>').format(exact, shown)


def percent(value: float | int | str | Decimal | None, digits: int | None = None) -> str:
    """A share already in percent (42.5, "42.5") as "42.5%" (one decimal at most, none when
    whole: "5%"); `digits` fixes the decimals."""
    if value is None or value == "":
        return "—"
    if digits is not None:
        text = f"{float(value):.{digits}f}"
    else:
        text = f"{float(value):.1f}".rstrip("0").rstrip(".")
    locale = current_locale()
    if locale != DEFAULT:
        text = format_decimal(
            Decimal(text), locale=babel_locale(locale), decimal_quantization=False
        )
    return text + "%"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _exact(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC")


def short_date(value: datetime, now: datetime | None = None) -> str:
    """ "Dec 7" this year, "Nov 24, 2040" any other year."""
    value, now = _utc(value), _utc(now or utc_now())
    locale = current_locale()
    if locale != DEFAULT:
        skeleton = "MMMd" if value.year == now.year else "yMMMd"
        return format_skeleton(skeleton, value, locale=babel_locale(locale))
    text = f"{value:%b} {value.day}"
    return text if value.year == now.year else f"{text}, {value.year}"


def _relative(value: datetime, now: datetime) -> str:
    seconds = (now - value).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return _("just now")
    locale = current_locale()
    if locale != DEFAULT:
        if seconds > 30 * 86_400:
            return short_date(value, now)
        return format_timedelta(
            value - now,
            add_direction=True,
            threshold=1,
            format="long",
            locale=babel_locale(locale),
        )
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = int(seconds // size)
            if unit == "day" and count > 30:
                return short_date(value, now)
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"  # pragma: no cover (the loop always answers)


def ago(value: datetime | None, now: datetime | None = None) -> Markup:
    """ "3 hours ago" / "in 2 days" (a date after a month), the exact UTC time on hover."""
    if value is None:
        return DASH
    text = _relative(_utc(value), _utc(now or utc_now()))
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        _utc(value).isoformat(), _exact(value), text
    )


def day(value: datetime | None, now: datetime | None = None) -> Markup:
    """A date ("Dec 7", with the year when not this year), the exact UTC time on hover."""
    if value is None:
        return DASH
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        _utc(value).isoformat(), _exact(value), short_date(value, now)
    )


FILTERS = {"money": money, "money_text": money_text, "percent": percent, "ago": ago, "day": day}
