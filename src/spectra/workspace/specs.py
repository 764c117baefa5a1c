"""The settings a workspace has: name, type, default, what it means. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from spectra.errors import InvalidError
from spectra.kit.money import format_amount, parse_amount


class InvalidSettingError(InvalidError):
    code = "invalid_setting"


class UnknownSettingError(InvalidError):
    code = "unknown_setting"


@dataclass(frozen=True, slots=True)
class SettingSpec:
    name: str
    kind: str
    default: Any
    description: str
    parse: Callable[[str], Any]
    show: Callable[[Any], str]


def _none_or(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if text.strip().lower() in ("", "none", "off", "null"):
            return None
        return fn(text)

    return parse


def _amount(text: str) -> int:
    return parse_amount(text, field="value")


def _nonnegative_amount(text: str) -> int:
    return parse_amount(text, allow_zero=True, field="value")


def _currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise InvalidSettingError(
            f"'{text}' is not a currency code; use three letters such as USD or EUR."
        )
    return code


def _time_zone(text: str) -> str:
    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSettingError(
            f"'{text}' is not a time zone; use an IANA name such as Europe/Berlin."
        ) from None
    return name


def _rate(text: str) -> str:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidSettingError(f"'{text}' is not a decimal rate such as 0.92.") from None
    if not value.is_finite() or value <= 0:
        raise InvalidSettingError("The rate must be a positive decimal number.")
    return str(value)


_MAX_INT_SETTING = 100_000_000


def _positive_int(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", text.strip(), re.ASCII):
        raise InvalidSettingError(f"'{text[:40]}' is not a whole number of at most 10 digits.")
    value = int(text.strip())
    if not 0 < value <= _MAX_INT_SETTING:
        raise InvalidSettingError(f"The value must be a whole number from 1 to {_MAX_INT_SETTING}.")
    return value


def _window_hours(text: str) -> int:
    value = _positive_int(text)
    if value > 24 * 366:
        raise InvalidSettingError("The window is at most 8784 hours (a year).")
    return value


def _days_ahead(text: str) -> int:
    value = _positive_int(text)
    if value > 366:
        raise InvalidSettingError("The horizon is at most 366 days (a year).")
    return value


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise InvalidSettingError(f"'{text[:40]}' is not on or off.")


def _show_flag(value: Any) -> str:
    return "on" if value else "off"


def _minutes(text: str) -> int:
    value = _positive_int(text)
    if value > 24 * 60:
        raise InvalidSettingError("At most 1440 minutes (a day).")
    return value


def _url(text: str) -> str:
    parsed = urlparse(text.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidSettingError(f"'{text}' is not an http(s) URL.")
    return text.strip()


def _text(text: str) -> str:
    value = text.strip()
    if len(value) > 300 or any(c in value for c in "\r\n"):
        raise InvalidSettingError("The value must be one line of at most 300 characters.")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise InvalidSettingError("A port is a number from 1 to 65535.")
    return value


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "on", "yes", "1"):
        return True
    if value in ("false", "off", "no", "0"):
        return False
    raise InvalidSettingError(f"'{text[:40]}' is not true or false.")


def _percents(text: str) -> str:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(re.fullmatch(r"[0-9]{1,4}", p) for p in parts):
        raise InvalidSettingError("Give percents separated by commas, such as 50,80,100.")
    values = sorted({int(p) for p in parts})
    if values[0] < 1 or values[-1] > 1000:
        raise InvalidSettingError("Each percent is from 1 to 1000.")
    return ",".join(str(v) for v in values)


def _digest(text: str) -> str:
    value = text.strip().lower()
    if value not in ("daily", "weekly"):
        raise InvalidSettingError("The digest is daily, weekly or none.")
    return value


def _show_secret(value: Any) -> str:
    return "none" if value is None else "set"


def _show_amount(value: Any) -> str:
    return "none" if value is None else format_amount(value)


def _show(value: Any) -> str:
    return "none" if value is None else str(value)


SPECS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec(
            "currency",
            "currency",
            "USD",
            "Workspace currency for balances and prices.",
            _currency,
            _show,
        ),
        SettingSpec(
            "usd_rate",
            "decimal",
            "1",
            "Units of the workspace currency per US dollar (converts default prices).",
            _rate,
            _show,
        ),
        SettingSpec(
            "time_zone",
            "time_zone",
            "UTC",
            "Time zone for periods, statements and reports.",
            _time_zone,
            _show,
        ),
        SettingSpec(
            "max_recharge",
            "amount",
            None,
            "Largest single recharge, adjustment credit or code batch (in total); none = no limit.",
            _none_or(_amount),
            _show_amount,
        ),
        SettingSpec(
            "four_eyes_threshold",
            "amount",
            None,
            "Money created (recharges, credits, refunds, code batches) above this, or adding up "
            "above it within four_eyes_window_hours for one actor, waits for a second approver; "
            "none = off.",
            _none_or(_amount),
            _show_amount,
        ),
        SettingSpec(
            "four_eyes_self_threshold",
            "amount",
            0,
            "Money created or moved toward the actor's own wallet or group above this waits "
            "for a second approver (0 = any amount); none = off.",
            _none_or(_nonnegative_amount),
            _show_amount,
        ),
        SettingSpec(
            "four_eyes_window_hours",
            "int",
            24,
            "The rolling window in which one actor's money-creating amounts add up toward "
            "four_eyes_threshold, so splitting an amount does not avoid approval (at most 8784).",
            _window_hours,
            _show,
        ),
        SettingSpec(
            "low_balance_threshold",
            "amount",
            None,
            "Default low-balance notice threshold; none = off.",
            _none_or(_amount),
            _show_amount,
        ),
        SettingSpec(
            "webhook_url",
            "url",
            None,
            "Where signed webhook notices are POSTed; none = off.",
            _none_or(_url),
            _show,
        ),
        SettingSpec(
            "alert_thresholds",
            "percents",
            "50,80,100",
            "Budget alert thresholds, in percent of a cap or allowance (each fires once per period).",
            _percents,
            _show,
        ),
        SettingSpec(
            "alert_runway_days",
            "int",
            None,
            "Alert when a group's balance lasts fewer days than this at the recent rate; none = off.",
            _none_or(_positive_int),
            _show,
        ),
        SettingSpec(
            "alert_approvals_waiting_hours",
            "int",
            24,
            "Alert when an approval or member request has waited longer than this many hours "
            "(at most 8784).",
            _window_hours,
            _show,
        ),
        SettingSpec(
            "alert_key_expiring_days",
            "int",
            7,
            "Alert when a member key expires within this many days (at most 366).",
            _days_ahead,
            _show,
        ),
        SettingSpec(
            "alert_digest",
            "choice",
            None,
            "A digest of spend vs budget per group: daily, weekly or none.",
            _none_or(_digest),
            _show,
        ),
        SettingSpec(
            "smtp_host",
            "text",
            None,
            "SMTP server for mail (alerts, invitations, set-up and reset links); none = no mail.",
            _none_or(_text),
            _show,
        ),
        SettingSpec("smtp_port", "int", 587, "SMTP server port.", _port, _show),
        SettingSpec(
            "smtp_from",
            "text",
            None,
            "The From address of Spectra's mail.",
            _none_or(_text),
            _show,
        ),
        SettingSpec(
            "smtp_username",
            "text",
            None,
            "SMTP user name; none = no login.",
            _none_or(_text),
            _show,
        ),
        SettingSpec(
            "smtp_password",
            "secret",
            None,
            "SMTP password: stored sealed, shown only as set or none (SPECTRA_SMTP_PASSWORD is "
            "used when none is set).",
            _none_or(_text),
            _show_secret,
        ),
        SettingSpec(
            "smtp_starttls",
            "bool",
            True,
            "Upgrade the SMTP connection with STARTTLS (true/false).",
            _bool,
            _show,
        ),
        SettingSpec(
            "output_estimate_cap",
            "int",
            4096,
            "Output tokens assumed at most when estimating a request's hold.",
            _positive_int,
            _show,
        ),
        SettingSpec(
            "key_rotation_grace_hours",
            "int",
            24,
            "How long a rotated key keeps working.",
            _positive_int,
            _show,
        ),
        SettingSpec(
            "usage_retention_days",
            "int",
            90,
            "How long request-level usage records are kept.",
            _positive_int,
            _show,
        ),
        SettingSpec(
            "mfa_required_for_admins",
            "flag",
            False,
            "When on, owners, admins, billing admins and auditors who sign in with a password "
            "must enrol a second factor (authenticator app or passkey) before using the console "
            "(SSO sign-ins: the identity provider is the factor; API tokens are not affected).",
            _flag,
            _show_flag,
        ),
        SettingSpec(
            "step_up_minutes",
            "int",
            15,
            "Sensitive console actions (approving, recharging above four_eyes_threshold, "
            "rotating upstream credentials, creating API tokens) ask to confirm it is you once "
            "the last sign-in is older than this many minutes (at most 1440).",
            _minutes,
            _show,
        ),
        SettingSpec(
            "hold_expiry_seconds",
            "int",
            900,
            "When an unsettled hold is released by the sweeper.",
            _positive_int,
            _show,
        ),
    )
}


def spec_for(name: str) -> SettingSpec:
    try:
        return SPECS[name]
    except KeyError:
        known = ", ".join(sorted(SPECS))
        raise UnknownSettingError(
            f"There is no setting '{name}'; known settings: {known}."
        ) from None
