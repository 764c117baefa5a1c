"""Key budgets, projects with their members and keys, and budget extensions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base, IdMixin
from spectra.db.types import MicrosType
from spectra.kit.clock import utc_now

BUDGET_MODES = ("hard", "soft", "approval")
"""hard: refuse at the limit; soft: allow (and mark for alerting); approval: refuse until an
admin approves an extension, which lapses at its expiry."""
PERIODS = ("day", "week", "month")
EXTENSION_STATUSES = ("pending", "approved", "rejected")

_MODE_CHECK = "mode IN ('hard', 'soft', 'approval')"


class KeyBudget(Base):
    """One member key's budgets and limits; a key without a row has only the deployment's
    default per-key limits (`SPECTRA_GATEWAY_KEY_*`)."""

    __tablename__ = "key_budgets"
    __table_args__ = (
        CheckConstraint(_MODE_CHECK, name="mode"),
        CheckConstraint("day_micros IS NULL OR day_micros > 0", name="day_positive"),
        CheckConstraint("week_micros IS NULL OR week_micros > 0", name="week_positive"),
        CheckConstraint("month_micros IS NULL OR month_micros > 0", name="month_positive"),
        CheckConstraint("rpm IS NULL OR rpm > 0", name="rpm_positive"),
        CheckConstraint("tpm IS NULL OR tpm > 0", name="tpm_positive"),
        CheckConstraint("concurrency IS NULL OR concurrency > 0", name="concurrency_positive"),
    )

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member_keys.id", ondelete="CASCADE"), primary_key=True
    )
    day_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Spend allowed per day (workspace time zone), micros; None = no daily budget."""
    week_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Spend allowed per week (Monday to Sunday, workspace time zone), micros."""
    month_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Spend allowed per calendar month (workspace time zone), micros."""
    mode: Mapped[str] = mapped_column(String(16), default="hard")
    rpm: Mapped[int | None] = mapped_column(Integer)
    tpm: Mapped[int | None] = mapped_column(Integer)
    concurrency: Mapped[int | None] = mapped_column(Integer)
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Glob patterns of models the key may use; empty = no narrowing here."""
    clients: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Client families (spectra.usage.clients) the key may be used from; empty = any."""
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class Project(IdMixin, Base):
    """A named project: members and keys attribute their usage to it."""

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(_MODE_CHECK, name="mode"),
        CheckConstraint(
            "monthly_budget_micros IS NULL OR monthly_budget_micros > 0", name="budget_positive"
        ),
    )

    name: Mapped[str] = mapped_column(String(100), unique=True)
    monthly_budget_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Spend allowed per calendar month (workspace time zone), micros; None = no budget."""
    mode: Mapped[str] = mapped_column(String(16), default="hard")
    is_header_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    """Members of the project may attribute a request to it with `x-spectra-project`."""
    status: Mapped[str] = mapped_column(String(16), default="active")
    """`active` or `removed` (kept for the usage records that name it)."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class ProjectMember(Base):
    __tablename__ = "project_members"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utc_now)


class ProjectKey(Base):
    """A key belongs to at most one project: its requests are attributed to it."""

    __tablename__ = "project_keys"

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member_keys.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utc_now)


class BudgetExtension(IdMixin, Base):
    """A member's request to spend past an approval-mode budget, and the admin's answer: an
    approved extension raises that budget by `amount_micros` until `expires_at`."""

    __tablename__ = "budget_extensions"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        CheckConstraint("amount_micros > 0", name="amount_positive"),
        CheckConstraint("(key_id IS NULL) <> (project_id IS NULL)", name="one_subject"),
    )

    key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member_keys.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    amount_micros: Mapped[int] = mapped_column(MicrosType)
    """How much more the budget allows while the extension lasts, micros (> 0)."""
    reason: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column()
    requested_by_label: Mapped[str] = mapped_column(String(200))
    decided_by_label: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column()
    """When an approved extension stops counting (UTC)."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    decided_at: Mapped[datetime | None] = mapped_column()
