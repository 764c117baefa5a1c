"""Pydantic input and output shared by the API and the CLI: money as exact decimal strings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from spectra.kit.schema import AmountIn, AmountOut, NonNegativeAmountIn
from spectra.packages.periods import Period

if TYPE_CHECKING:
    from spectra.packages.models import PackageVersion
    from spectra.packages.service.assignments import AssignmentDetail, Preview
    from spectra.packages.service.catalog import PackageDetail
    from spectra.packages.service.views import Holding

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


class VersionRead(BaseModel):
    version: int
    allowance: AmountOut
    allowance_micros: int
    period: str
    valid_days: int | None
    rollover_periods: int
    model_patterns: list[str]
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    max_cost_per_request: AmountOut | None
    max_cost_per_request_micros: int | None
    list_price: AmountOut
    list_price_micros: int
    note: str
    created_by: str
    created_at: datetime


class PackageRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    status: str
    current_version: int
    terms: VersionRead
    active_assignments: int
    created_at: datetime


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


class AssignmentRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str | None
    package_id: uuid.UUID
    package_name: str
    version: int
    status: str
    starts_at: datetime
    ends_at: datetime | None
    auto_renew: bool
    cancel_at: datetime | None
    period_starts_at: datetime | None
    period_ends_at: datetime | None
    closed_at: datetime | None
    allowance_account_id: uuid.UUID
    reason: str
    assigned_by: str
    created_at: datetime


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


class PreviewRowRead(BaseModel):
    user_id: uuid.UUID
    email: str
    change: str
    from_version: int | None
    to_version: int | None
    allowance_before: AmountOut
    allowance_before_micros: int
    allowance_after: AmountOut
    allowance_after_micros: int
    note: str


class PreviewRead(BaseModel):
    action: str
    package: str
    applied: bool
    gain: int
    lose: int
    change: int
    unchanged: int
    allowance_delta: AmountOut
    allowance_delta_micros: int
    rows: list[PreviewRowRead]


class RejectedLineRead(BaseModel):
    line: int
    email: str
    package: str
    reason: str


class HoldingRead(BaseModel):
    """One package a member holds, with the same numbers for the member and for admins."""

    assignment_id: uuid.UUID
    package: str
    version: int
    status: str
    allowance: AmountOut
    allowance_micros: int
    carried_in: AmountOut
    carried_in_micros: int
    available: AmountOut
    available_micros: int
    used: AmountOut
    used_micros: int
    remaining: AmountOut
    remaining_micros: int
    period_starts_at: datetime | None
    period_ends_at: datetime | None
    next_reset_at: datetime | None
    ends_at: datetime | None
    models: list[str]
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    max_cost_per_request: AmountOut | None
    max_cost_per_request_micros: int | None
    allowance_account_id: uuid.UUID


def version_read(v: PackageVersion) -> VersionRead:
    return VersionRead(
        version=v.version,
        allowance=v.allowance_micros,
        allowance_micros=v.allowance_micros,
        period=v.period,
        valid_days=v.valid_days,
        rollover_periods=v.rollover_periods,
        model_patterns=list(v.model_patterns),
        rpm=v.rpm,
        tpm=v.tpm,
        max_concurrent=v.max_concurrent,
        max_cost_per_request=v.max_cost_per_request_micros,
        max_cost_per_request_micros=v.max_cost_per_request_micros,
        list_price=v.list_price_micros,
        list_price_micros=v.list_price_micros,
        note=v.note,
        created_by=v.created_by,
        created_at=v.created_at,
    )


def package_read(d: PackageDetail) -> PackageRead:
    p = d.package
    return PackageRead(
        id=p.id,
        name=p.name,
        description=p.description,
        status=p.status,
        current_version=p.current_version,
        terms=version_read(d.terms),
        active_assignments=d.active_assignments,
        created_at=p.created_at,
    )


def assignment_read(d: AssignmentDetail) -> AssignmentRead:
    a = d.assignment
    return AssignmentRead(
        id=a.id,
        user_id=a.user_id,
        email=d.email,
        package_id=a.package_id,
        package_name=d.package_name,
        version=d.version,
        status=a.status,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        auto_renew=a.auto_renew,
        cancel_at=a.cancel_at,
        period_starts_at=a.period_starts_at,
        period_ends_at=a.period_ends_at,
        closed_at=a.closed_at,
        allowance_account_id=a.allowance_account_id,
        reason=a.reason,
        assigned_by=a.assigned_by,
        created_at=a.created_at,
    )


def preview_read(p: Preview) -> PreviewRead:
    return PreviewRead(
        action=p.action,
        package=p.package,
        applied=p.applied,
        gain=p.count("gain"),
        lose=p.count("lose"),
        change=p.count("change"),
        unchanged=p.count("unchanged"),
        allowance_delta=p.allowance_delta_micros,
        allowance_delta_micros=p.allowance_delta_micros,
        rows=[
            PreviewRowRead(
                user_id=r.user_id,
                email=r.email,
                change=r.change,
                from_version=r.from_version,
                to_version=r.to_version,
                allowance_before=r.allowance_before_micros,
                allowance_before_micros=r.allowance_before_micros,
                allowance_after=r.allowance_after_micros,
                allowance_after_micros=r.allowance_after_micros,
                note=r.note,
            )
            for r in p.rows
        ],
    )


def holding_read(h: Holding) -> HoldingRead:
    return HoldingRead(
        assignment_id=h.assignment.id,
        package=h.package_name,
        version=h.version,
        status=h.assignment.status,
        allowance=h.allowance_micros,
        allowance_micros=h.allowance_micros,
        carried_in=h.carried_in_micros,
        carried_in_micros=h.carried_in_micros,
        available=h.available_micros,
        available_micros=h.available_micros,
        used=h.used_micros,
        used_micros=h.used_micros,
        remaining=h.remaining_micros,
        remaining_micros=h.remaining_micros,
        period_starts_at=h.period_starts_at,
        period_ends_at=h.period_ends_at,
        next_reset_at=h.next_reset_at,
        ends_at=h.assignment.ends_at,
        models=h.model_patterns,
        rpm=h.rpm,
        tpm=h.tpm,
        max_concurrent=h.max_concurrent,
        max_cost_per_request=h.max_cost_per_request_micros,
        max_cost_per_request_micros=h.max_cost_per_request_micros,
        allowance_account_id=h.assignment.allowance_account_id,
    )
