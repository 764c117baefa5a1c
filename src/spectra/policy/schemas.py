"""Inputs of group policy changes, drafts and rollouts, shared by the API and the CLI."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from spectra.kit.money import format_amount
from spectra.kit.schema import NonNegativeAmountIn
from spectra.usage.clients import CLIENT_FAMILIES

from .errors import PolicyChangeInvalidError


def _patterns(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    out: list[str] = []
    for raw in value:
        pattern = raw.strip()
        if pattern and pattern not in out:
            out.append(pattern)
    return out


class GroupPolicyChange(BaseModel):
    """The fields to change on a group's policy; a field left out is unchanged, and an explicit
    null removes a cap or a limit. Empty lists mean "any model" / "any client" / "deny nothing"."""

    model_config = ConfigDict(extra="forbid")

    allowed_models: list[str] | None = None
    denied_models: list[str] | None = None
    allowed_clients: list[str] | None = None
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    max_concurrent: int | None = Field(default=None, gt=0)
    wallet_fallback: bool | None = None
    group_wallet_fallback: bool | None = None
    monthly_cap: NonNegativeAmountIn | None = None
    member_monthly_cap: NonNegativeAmountIn | None = None

    @field_validator("allowed_models", "denied_models")
    @classmethod
    def _clean(cls, value: list[str] | None) -> list[str] | None:
        return _patterns(value)

    @field_validator("allowed_clients")
    @classmethod
    def _clients(cls, value: list[str] | None) -> list[str] | None:
        cleaned = _patterns(value)
        unknown = [c for c in cleaned or () if c not in CLIENT_FAMILIES]
        if unknown:
            raise ValueError(
                f"unknown client {', '.join(unknown)}; use {', '.join(CLIENT_FAMILIES)}"
            )
        return cleaned

    def stored(self) -> dict[str, Any]:
        """The fields that were set, as JSON (amounts in micros)."""
        return {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name in self.model_fields_set
        }

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> GroupPolicyChange:
        values = {
            k: (format_amount(v) if k.endswith("cap") and v is not None else v)
            for k, v in data.items()
        }
        return cls.model_validate(values)


class CohortCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    users: list[str] = Field(default_factory=list)
    """Members by email."""
    groups: list[str] = Field(default_factory=list)
    """Groups by name."""
    everyone: bool = False
    percent: Decimal | None = None
    """A percentage cohort: this share (e.g. 10 = 10 %) of the groups' or everyone's members,
    picked by a stable hash; growing it later keeps those already in."""
    exclude_users: list[str] = Field(default_factory=list)
    """Members (by email) a percentage cohort never picks."""
    exclude_groups: list[str] = Field(default_factory=list)
    """Groups (by name) whose members a percentage cohort never picks."""
    models: list[str] = Field(default_factory=list)
    package: str | None = None
    monthly_cap: NonNegativeAmountIn | None = None
    member_monthly_cap: NonNegativeAmountIn | None = None

    @field_validator("models")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return _patterns(value) or []


def rate_bp(value: str | float | int | Decimal | None, name: str) -> int | None:
    """A percentage ("2.5" = 2.5 %) as basis points, exact."""
    if value is None:
        return None
    try:
        bp = Decimal(str(value)) * 100
    except InvalidOperation as exc:
        raise PolicyChangeInvalidError(f"{name} must be a percentage such as 2.5.") from exc
    if bp != bp.to_integral_value() or not 0 <= bp <= 10_000:
        raise PolicyChangeInvalidError(
            f"{name} must be a percentage between 0 and 100 with at most two decimals."
        )
    return int(bp)


class RolloutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    goal: str = Field(default="", max_length=1000)
    cohorts: list[CohortCreate] = Field(min_length=1)
    min_days: int | None = Field(default=None, ge=0)
    max_error_rate: Decimal | None = None
    """Percent, e.g. 5 = 5 %."""
    max_refusal_rate: Decimal | None = None
    holdout: Decimal | None = None
    """Percent of members kept out of every percentage cohort (a lasting baseline)."""


class Freeze(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime


class AutopilotSettings(BaseModel):
    """How a rollout runs itself. Bounds are over the baseline (the members not yet in the
    rollout, same period): rates in percentage points, spend per member in currency, p95 latency
    in milliseconds; `*_pause` pauses the rollout, the wider `*_rollback` rolls the wave back."""

    model_config = ConfigDict(extra="forbid")

    window_hours: int = Field(default=24, ge=1, le=24 * 90)
    """The current wave's gates must hold this long after its promotion."""
    min_requests: int = Field(default=100, ge=1)
    """A gate counts only once the wave has made this many requests."""
    error_rate_pause: Decimal | None = Decimal(2)
    error_rate_rollback: Decimal | None = Decimal(10)
    refusal_rate_pause: Decimal | None = Decimal(3)
    refusal_rate_rollback: Decimal | None = None
    spend_per_member_pause: NonNegativeAmountIn | None = None
    spend_per_member_rollback: NonNegativeAmountIn | None = None
    p95_latency_pause_ms: int | None = Field(default=None, ge=0)
    p95_latency_rollback_ms: int | None = Field(default=None, ge=0)
    budget_alerts_pause: bool = False
    """Pause when a budget alert (cap, allowance, key budget) is raised for a member of the
    current wave, or for one of its groups, since its promotion."""
    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=17, ge=1, le=24)
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    """Weekdays promotions may happen on, Monday = 0, in the workspace time zone."""
    freezes: list[Freeze] = Field(default_factory=list)
    approval_above: int | None = Field(default=None, ge=0)
    """A wave with more members than this waits for a person's approval."""

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 <= d <= 6 for d in value):
            raise ValueError("days are weekdays 0 (Monday) to 6 (Sunday), at least one")
        return sorted(set(value))
