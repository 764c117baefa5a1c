"""Alert errors, each with a stable code."""

from __future__ import annotations

from spectra.errors import ConflictError, InvalidError, NotFoundError


class AlertChannelNotFoundError(NotFoundError):
    code = "alert_channel_not_found"


class AlertChannelNameTakenError(ConflictError):
    code = "alert_channel_name_taken"


class AlertChannelInvalidError(InvalidError):
    code = "alert_channel_invalid"


class AlertRuleNotFoundError(NotFoundError):
    code = "alert_rule_not_found"


class AlertRuleInvalidError(InvalidError):
    code = "alert_rule_invalid"
