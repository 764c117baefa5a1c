"""Package catalog (packages and their versions), assignments, periods and group defaults."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base, IdMixin, TimestampMixin
from spectra.db.types import MicrosType
from spectra.kit.clock import utc_now


class PackageStatus:
    ACTIVE = "active"
    ARCHIVED = "archived"


class AssignmentStatus:
    ACTIVE = "active"
    """Holds the package: periods are granted while it lasts."""
    ENDED = "ended"
    """Reached its end date, its single period, or its one_time validity."""
    CANCELLED = "cancelled"
    """Cancelled by an admin (immediately, or at the end of a period)."""


class Package(IdMixin, TimestampMixin, Base):
    """A package in the catalog. Its terms live in versions; the newest is `current_version`."""

    __tablename__ = "packages"
    __table_args__ = (CheckConstraint("status IN ('active', 'archived')", name="status"),)

    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    """The name lower-cased: package names are unique regardless of case."""
    description: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default=PackageStatus.ACTIVE)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    """The version new assignments get."""


class PackageVersion(IdMixin, Base):
    """One immutable set of terms. Editing a package adds a version; assignments keep theirs."""

    __tablename__ = "package_versions"
    __table_args__ = (
        UniqueConstraint("package_id", "version"),
        CheckConstraint("period IN ('monthly', 'weekly', 'daily', 'one_time')", name="period"),
        CheckConstraint("allowance_micros >= 0", name="allowance_non_negative"),
        CheckConstraint("rollover_periods >= 0", name="rollover_non_negative"),
        CheckConstraint(
            "(period = 'one_time' AND valid_days >= 1) OR (period <> 'one_time' AND valid_days IS NULL)",
            name="valid_days",
        ),
    )

    package_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("packages.id"))
    version: Mapped[int] = mapped_column(Integer)
    allowance_micros: Mapped[int] = mapped_column(MicrosType)
    """Allowance granted each period, micros of the workspace currency (>= 0)."""
    period: Mapped[str] = mapped_column(String(16))
    valid_days: Mapped[int | None] = mapped_column(Integer)
    """Validity of a one_time package, in days; None for the renewing periods."""
    rollover_periods: Mapped[int] = mapped_column(Integer, default=0)
    """0 = unused allowance expires at period end; N = it rolls over, capped at N periods' allowance."""
    model_patterns: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Glob patterns of the models the package pays for (fnmatch, case-sensitive)."""
    rpm: Mapped[int | None] = mapped_column(Integer)
    """Requests per minute; None = no package limit."""
    tpm: Mapped[int | None] = mapped_column(Integer)
    """Tokens per minute; None = no package limit."""
    max_concurrent: Mapped[int | None] = mapped_column(Integer)
    max_cost_per_request_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Largest cost one request may have, micros; None = no cap."""
    list_price_micros: Mapped[int] = mapped_column(MicrosType, default=0)
    """What one period of the package costs the budget, micros (reports only)."""
    note: Mapped[str] = mapped_column(String(500), default="")
    """Why this version was made."""
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class PackageAssignment(IdMixin, TimestampMixin, Base):
    """A user holding one version of a package, with its own allowance account on the ledger."""

    __tablename__ = "package_assignments"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'ended', 'cancelled')", name="status"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    package_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("packages.id"))
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_versions.id"))
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.ACTIVE)
    starts_at: Mapped[datetime] = mapped_column()
    """Anchor of every period (UTC); periods follow its wall time in `time_zone`."""
    ends_at: Mapped[datetime | None] = mapped_column()
    """Hard end (UTC), exclusive; None = runs while auto-renewing."""
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=True)
    """False with no `ends_at`: the assignment lasts one period."""
    cancel_at: Mapped[datetime | None] = mapped_column()
    """Set by a cancel at period end: the assignment stops when its current period ends (UTC)."""
    time_zone: Mapped[str] = mapped_column(String(64))
    """The workspace time zone when assigned: periods keep their boundaries if it changes later."""
    allowance_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id"), unique=True
    )
    """The ledger account (kind `allowance`) this assignment's grants go to."""
    period_index: Mapped[int | None] = mapped_column(Integer)
    """Index of the current (last granted) period; None before the first grant."""
    period_starts_at: Mapped[datetime | None] = mapped_column()
    period_ends_at: Mapped[datetime | None] = mapped_column()
    """End of the current period (UTC): the next reset, or the end of the assignment."""
    closed_at: Mapped[datetime | None] = mapped_column()
    """When it stopped being active (ended or cancelled)."""
    reason: Mapped[str] = mapped_column(String(500), default="")
    """Why it was assigned (shown in the audit log and to admins)."""
    assigned_by: Mapped[str] = mapped_column(String(320))


Index(
    "uq_package_assignments_active_user_package",
    PackageAssignment.user_id,
    PackageAssignment.package_id,
    unique=True,
    sqlite_where=text("status = 'active'"),
    postgresql_where=text("status = 'active'"),
)
Index("ix_package_assignments_user_id", PackageAssignment.user_id)
Index(
    "ix_package_assignments_status_period_ends_at",
    PackageAssignment.status,
    PackageAssignment.period_ends_at,
)
Index("ix_package_assignments_created_at_id", PackageAssignment.created_at, PackageAssignment.id)


class PackagePeriod(IdMixin, Base):
    """One granted period of an assignment: what came in, and how it closed. One row per period."""

    __tablename__ = "package_periods"
    __table_args__ = (UniqueConstraint("assignment_id", "starts_at"),)

    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_assignments.id"))
    period_index: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_versions.id"))
    """The version whose allowance was granted."""
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    carried_in_micros: Mapped[int] = mapped_column(MicrosType)
    """Balance on the allowance account just before the grant, micros: a rollover (> 0) or an
    overspend carried from the previous period (< 0, reduces what this period makes available)."""
    granted_micros: Mapped[int] = mapped_column(MicrosType)
    """The grant transaction's amount (the version's allowance), micros."""
    grant_transaction_id: Mapped[uuid.UUID | None] = mapped_column()
    """None when the allowance is zero (a ledger transaction needs non-zero postings)."""
    closed_at: Mapped[datetime | None] = mapped_column()
    closing_balance_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Balance at period end before expiry, micros (negative = overspend carried on)."""
    expired_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Moved to expired allowance at close, micros."""
    expire_transaction_id: Mapped[uuid.UUID | None] = mapped_column()

    @property
    def opening_micros(self) -> int:
        """What the period made available: carried in plus granted (micros)."""
        return self.carried_in_micros + self.granted_micros


class GroupDefaultPackage(Base):
    """The package members get when they join a group later (users publishes UserJoinedGroup)."""

    __tablename__ = "group_default_packages"

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    package_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("packages.id"))
    set_by: Mapped[str] = mapped_column(String(320))
    set_at: Mapped[datetime] = mapped_column(default=utc_now)


def version_terms(version: PackageVersion) -> dict[str, Any]:
    """The terms of a version as plain values (audit before/after, previews)."""
    return {
        "version": version.version,
        "allowance_micros": version.allowance_micros,
        "period": version.period,
        "valid_days": version.valid_days,
        "rollover_periods": version.rollover_periods,
        "model_patterns": list(version.model_patterns),
        "rpm": version.rpm,
        "tpm": version.tpm,
        "max_concurrent": version.max_concurrent,
        "max_cost_per_request_micros": version.max_cost_per_request_micros,
        "list_price_micros": version.list_price_micros,
    }
