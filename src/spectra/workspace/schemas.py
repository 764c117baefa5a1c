"""The typed view of all workspace settings, defaults filled in."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class WorkspaceSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    currency: str = "USD"
    usd_rate: str = "1"
    time_zone: str = "UTC"
    max_recharge_micros: int | None = None
    four_eyes_threshold_micros: int | None = None
    four_eyes_self_threshold_micros: int | None = 0
    four_eyes_window_hours: int = 24
    low_balance_threshold_micros: int | None = None
    webhook_url: str | None = None
    alert_thresholds: str = "50,80,100"
    alert_runway_days: int | None = None
    alert_digest: str | None = None
    alert_approvals_waiting_hours: int = 24
    alert_key_expiring_days: int = 7
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    """Sealed (`kit.crypto` under the credential subkey); `workspace.service.smtp_password`
    opens it."""
    smtp_starttls: bool = True
    output_estimate_cap: int = 4096
    key_rotation_grace_hours: int = 24
    usage_retention_days: int = 90
    hold_expiry_seconds: int = 900
    mfa_required_for_admins: bool = False
    step_up_minutes: int = 15

    @property
    def alert_threshold_list(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.alert_thresholds.split(",") if p)

    @property
    def usd_rate_decimal(self) -> Decimal:
        return Decimal(self.usd_rate)


class SettingRead(BaseModel):
    name: str
    value: str
    is_default: bool
    description: str


class SettingsRead(BaseModel):
    """Every setting at once (never paged, so no `next_cursor`)."""

    items: list[SettingRead]


class SettingUpdate(BaseModel):
    value: str
