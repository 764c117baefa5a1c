"""Pydantic input and output shared by the API and the CLI: money as exact decimal strings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from spectra.kit.schema import (
    AmountIn,
    AmountOut,
    NonNegativeAmountIn,
    ReadModel,
    money_pair,
    renamed,
)
from spectra.packages.periods import Period

PeriodName = Literal["monthly", "weekly", "daily", "one_time"]
INT32_MAX = 2_147_483_647
"""Limits and versions are stored as 32-bit integers: a larger number is a 422, not a 500."""
Patterns = list[Annotated[str, Field(max_length=200)]]


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowance: NonNegativeAmountIn
    """Allowance per period, in currency units ("20.00")."""
    period: Period
    valid_days: int | None = Field(default=None, ge=1, le=3650)
    rollover_periods: int = Field(default=0, ge=0, le=120)
    model_patterns: Patterns = Field(default_factory=lambda: ["*"], max_length=500)
    """Allowed model glob patterns; all models when not given."""
    rpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    tpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_concurrent: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_cost_per_request: AmountIn | None = None
    list_price: NonNegativeAmountIn = 0  # type: ignore[assignment]


class PackageCreate(TermsIn):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)


class PackageUpdate(BaseModel):
    """Only the fields sent change; a change of terms makes a new version."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=1000)
    allowance: NonNegativeAmountIn | None = None
    period: Period | None = None
    valid_days: int | None = Field(default=None, ge=1, le=3650)
    rollover_periods: int | None = Field(default=None, ge=0, le=120)
    model_patterns: Patterns | None = Field(default=None, max_length=500)
    rpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    tpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_concurrent: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_cost_per_request: AmountIn | None = None
    list_price: NonNegativeAmountIn | None = None
    note: str = Field(default="", max_length=500)


class VersionRead(ReadModel):
    version: int
    allowance: AmountOut = money_pair("allowance")
    allowance_micros: int
    period: str
    valid_days: int | None
    rollover_periods: int
    model_patterns: list[str]
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    max_cost_per_request: AmountOut | None = money_pair("max_cost_per_request")
    max_cost_per_request_micros: int | None
    list_price: AmountOut = money_pair("list_price")
    list_price_micros: int
    note: str
    created_by: str
    created_at: datetime


class PackageRead(ReadModel):
    """From a `PackageDetail`."""

    id: uuid.UUID = renamed("package.id", "id")
    name: str = renamed("package.name", "name")
    description: str = renamed("package.description", "description")
    status: str = renamed("package.status", "status")
    current_version: int = renamed("package.current_version", "current_version")
    terms: VersionRead
    active_assignments: int
    created_at: datetime = renamed("package.created_at", "created_at")


class AssignmentWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: datetime | None = None
    """Default: now. Periods renew on its wall time in the workspace time zone."""
    ends_at: datetime | None = None
    auto_renew: bool = True
    reason: str = Field(default="", max_length=500)


class AssignmentCreate(AssignmentWindow):
    """Assign to one user, named by `user_id` or `email`."""

    user_id: uuid.UUID | None = None
    email: str | None = None


class BulkAssignmentCreate(AssignmentWindow):
    """Assign to many users (`user_ids` and/or `emails`) or to every current member of `group`."""

    user_ids: list[uuid.UUID] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    group: str | None = None
    preview: bool = False
    """Answer with who would gain what, and change nothing."""


class AssignmentRead(ReadModel):
    """From an `AssignmentDetail`: the assignment row, with its package's name, version and
    the user's email."""

    id: uuid.UUID = renamed("assignment.id", "id")
    user_id: uuid.UUID = renamed("assignment.user_id", "user_id")
    email: str | None
    package_id: uuid.UUID = renamed("assignment.package_id", "package_id")
    package_name: str
    version: int
    status: str = renamed("assignment.status", "status")
    starts_at: datetime = renamed("assignment.starts_at", "starts_at")
    ends_at: datetime | None = renamed("assignment.ends_at", "ends_at")
    auto_renew: bool = renamed("assignment.auto_renew", "auto_renew")
    cancel_at: datetime | None = renamed("assignment.cancel_at", "cancel_at")
    period_starts_at: datetime | None = renamed("assignment.period_starts_at", "period_starts_at")
    period_ends_at: datetime | None = renamed("assignment.period_ends_at", "period_ends_at")
    closed_at: datetime | None = renamed("assignment.closed_at", "closed_at")
    allowance_account_id: uuid.UUID = renamed(
        "assignment.allowance_account_id", "allowance_account_id"
    )
    reason: str = renamed("assignment.reason", "reason")
    assigned_by: str = renamed("assignment.assigned_by", "assigned_by")
    created_at: datetime = renamed("assignment.created_at", "created_at")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: Literal["now", "period_end"] = "period_end"
    reason: str = Field(default="", max_length=500)


class MigrateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_version: int | None = Field(default=None, ge=1, le=INT32_MAX)
    """Default: the package's current version."""
    from_version: int | None = Field(default=None, ge=1, le=INT32_MAX)
    """Default: every older version."""
    reason: str = Field(default="", max_length=500)
    preview: bool = False


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csv: str
    """`email,package` with optional `starts_at,ends_at,reason` columns; a header line is required."""
    reason: str = Field(default="", max_length=500)
    preview: bool = False


class GroupDefaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: str | None
    """Package name; null clears the default."""


class PreviewRowRead(ReadModel):
    user_id: uuid.UUID
    email: str
    change: str
    from_version: int | None
    to_version: int | None
    allowance_before: AmountOut = money_pair("allowance_before")
    allowance_before_micros: int
    allowance_after: AmountOut = money_pair("allowance_after")
    allowance_after_micros: int
    note: str


class PreviewRead(ReadModel):
    """From a `Preview`: the counts by change, then each row."""

    action: str
    package: str
    applied: bool
    gain: int
    lose: int
    change: int
    unchanged: int
    allowance_delta: AmountOut = money_pair("allowance_delta")
    allowance_delta_micros: int
    rows: list[PreviewRowRead]


class RejectedLineRead(BaseModel):
    line: int
    email: str
    package: str
    reason: str


class HoldingRead(ReadModel):
    """One package a member holds, with the same numbers for the member and for admins; from a
    `Holding`."""

    assignment_id: uuid.UUID = renamed("assignment.id", "assignment_id")
    package: str = renamed("package_name", "package")
    version: int
    status: str = renamed("assignment.status", "status")
    allowance: AmountOut = money_pair("allowance")
    allowance_micros: int
    carried_in: AmountOut = money_pair("carried_in")
    carried_in_micros: int
    available: AmountOut = money_pair("available")
    available_micros: int
    used: AmountOut = money_pair("used")
    used_micros: int
    remaining: AmountOut = money_pair("remaining")
    remaining_micros: int
    period_starts_at: datetime | None
    period_ends_at: datetime | None
    next_reset_at: datetime | None
    ends_at: datetime | None = renamed("assignment.ends_at", "ends_at")
    models: list[str] = renamed("model_patterns", "models")
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    max_cost_per_request: AmountOut | None = money_pair("max_cost_per_request")
    max_cost_per_request_micros: int | None
    allowance_account_id: uuid.UUID = renamed(
        "assignment.allowance_account_id", "allowance_account_id"
    )


class GroupDefaultRead(ReadModel):
    group: str
    group_id: uuid.UUID
    package: str


class GroupDefaultSet(BaseModel):
    group: str
    package: str | None
