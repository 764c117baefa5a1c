"""The settings a workspace has: name, type, default, what it means (how values are read and
shown: `values`). Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spectra.errors import InvalidError
from spectra.workspace import values as v
from spectra.workspace.values import InvalidSettingError

__all__ = ["SPECS", "InvalidSettingError", "SettingSpec", "UnknownSettingError", "spec_for"]


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


SPECS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec(
            "currency",
            "currency",
            "USD",
            "Workspace currency for balances and prices.",
            v.currency,
            v.show_plain,
        ),
        SettingSpec(
            "usd_rate",
            "decimal",
            "1",
            "Units of the workspace currency per US dollar (converts default prices).",
            v.rate,
            v.show_plain,
        ),
        SettingSpec(
            "time_zone",
            "time_zone",
            "UTC",
            "Time zone for periods, statements and reports.",
            v.time_zone,
            v.show_plain,
        ),
        SettingSpec(
            "max_recharge",
            "amount",
            None,
            "Largest single recharge, adjustment credit or code batch (in total); none = no limit.",
            v.none_or(v.amount),
            v.show_amount,
        ),
        SettingSpec(
            "four_eyes_threshold",
            "amount",
            None,
            "Money created (recharges, credits, refunds, code batches) above this, or adding up "
            "above it within four_eyes_window_hours for one actor, waits for a second approver; "
            "none = off.",
            v.none_or(v.amount),
            v.show_amount,
        ),
        SettingSpec(
            "four_eyes_self_threshold",
            "amount",
            0,
            "Money created or moved toward the actor's own wallet or group above this waits "
            "for a second approver (0 = any amount); none = off.",
            v.none_or(v.nonnegative_amount),
            v.show_amount,
        ),
        SettingSpec(
            "four_eyes_window_hours",
            "int",
            24,
            "The rolling window in which one actor's money-creating amounts add up toward "
            "four_eyes_threshold, so splitting an amount does not avoid approval (at most 8784).",
            v.window_hours,
            v.show_plain,
        ),
        SettingSpec(
            "low_balance_threshold",
            "amount",
            None,
            "Default low-balance notice threshold; none = off.",
            v.none_or(v.amount),
            v.show_amount,
        ),
        SettingSpec(
            "webhook_url",
            "url",
            None,
            "Where signed webhook notices are POSTed; none = off.",
            v.none_or(v.url),
            v.show_plain,
        ),
        SettingSpec(
            "alert_thresholds",
            "percents",
            "50,80,100",
            "Budget alert thresholds, in percent of a cap or allowance (each fires once per period).",
            v.percents,
            v.show_plain,
        ),
        SettingSpec(
            "alert_runway_days",
            "int",
            None,
            "Alert when a group's balance lasts fewer days than this at the recent rate; none = off.",
            v.none_or(v.positive_int),
            v.show_plain,
        ),
        SettingSpec(
            "alert_approvals_waiting_hours",
            "int",
            24,
            "Alert when an approval or member request has waited longer than this many hours "
            "(at most 8784).",
            v.window_hours,
            v.show_plain,
        ),
        SettingSpec(
            "alert_key_expiring_days",
            "int",
            7,
            "Alert when a member key expires within this many days (at most 366).",
            v.days_ahead,
            v.show_plain,
        ),
        SettingSpec(
            "alert_digest",
            "choice",
            None,
            "A digest of spend vs budget per group: daily, weekly or none.",
            v.none_or(v.digest),
            v.show_plain,
        ),
        SettingSpec(
            "smtp_host",
            "text",
            None,
            "SMTP server for mail (alerts, invitations, set-up and reset links); none = no mail.",
            v.none_or(v.one_line),
            v.show_plain,
        ),
        SettingSpec("smtp_port", "int", 587, "SMTP server port.", v.port, v.show_plain),
        SettingSpec(
            "smtp_from",
            "text",
            None,
            "The From address of Spectra's mail.",
            v.none_or(v.one_line),
            v.show_plain,
        ),
        SettingSpec(
            "smtp_username",
            "text",
            None,
            "SMTP user name; none = no login.",
            v.none_or(v.one_line),
            v.show_plain,
        ),
        SettingSpec(
            "smtp_password",
            "secret",
            None,
            "SMTP password: stored sealed, shown only as set or none (SPECTRA_SMTP_PASSWORD is "
            "used when none is set).",
            v.none_or(v.one_line),
            v.show_secret,
        ),
        SettingSpec(
            "smtp_starttls",
            "bool",
            True,
            "Upgrade the SMTP connection with STARTTLS (true/false).",
            v.boolean,
            v.show_plain,
        ),
        SettingSpec(
            "output_estimate_cap",
            "int",
            4096,
            "Output tokens assumed at most when estimating a request's hold.",
            v.positive_int,
            v.show_plain,
        ),
        SettingSpec(
            "key_rotation_grace_hours",
            "int",
            24,
            "How long a rotated key keeps working.",
            v.positive_int,
            v.show_plain,
        ),
        SettingSpec(
            "usage_retention_days",
            "int",
            90,
            "How long request-level usage records are kept.",
            v.positive_int,
            v.show_plain,
        ),
        SettingSpec(
            "mfa_required_for_admins",
            "flag",
            False,
            "When on, owners, admins, billing admins and auditors who sign in with a password "
            "must enrol a second factor (authenticator app or passkey) before using the console "
            "(SSO sign-ins: the identity provider is the factor; API tokens are not affected).",
            v.flag,
            v.show_flag,
        ),
        SettingSpec(
            "step_up_minutes",
            "int",
            15,
            "Sensitive console actions (approving, recharging above four_eyes_threshold, "
            "rotating upstream credentials, creating API tokens) ask to confirm it is you once "
            "the last sign-in is older than this many minutes (at most 1440).",
            v.minutes,
            v.show_plain,
        ),
        SettingSpec(
            "hold_expiry_seconds",
            "int",
            900,
            "When an unsettled hold is released by the sweeper.",
            v.positive_int,
            v.show_plain,
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
