"""Group policy (allow/deny models, clients, request limits, funding switches), member grants,
rollouts with their cohorts, and policy drafts with their stored dry-runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base, IdMixin
from spectra.db.types import MicrosType
from spectra.kit.clock import utc_now


class GroupPolicy(Base):
    """A group's policy; a group without a row allows any model and client, with both funding
    switches on (the defaults). Caps live on the group itself (users.models.Group)."""

    __tablename__ = "group_policies"
    __table_args__ = (
        CheckConstraint("rpm IS NULL OR rpm > 0", name="rpm_positive"),
        CheckConstraint("tpm IS NULL OR tpm > 0", name="tpm_positive"),
        CheckConstraint("max_concurrent IS NULL OR max_concurrent > 0", name="concurrent_positive"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    is_wallet_fallback: Mapped[bool] = mapped_column(Boolean, default=True)
    """Members may pay from their own wallet when their package allowances do not cover a request."""
    is_group_wallet_fallback: Mapped[bool] = mapped_column(Boolean, default=True)
    """Members may pay from the group wallet when allowances and their wallet do not cover it."""
    allowed_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Glob patterns of models members may use; empty = any model."""
    denied_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Glob patterns of models no member may use, whatever else allows them."""
    allowed_clients: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Client families (claude_code, codex_cli, ...) members may use; empty = any client."""
    rpm: Mapped[int | None] = mapped_column(Integer)
    """Requests per minute per member; None = no group limit."""
    tpm: Mapped[int | None] = mapped_column(Integer)
    """Tokens per minute per member; None = no group limit."""
    max_concurrent: Mapped[int | None] = mapped_column(Integer)
    """Open requests at once per member; None = no group limit."""
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class MemberGrant(Base):
    """Model patterns one member may use on top of their group's allowed models (a rollout
    cohort's models, for members named one by one). Group denials still win."""

    __tablename__ = "policy_member_grants"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class RolloutStatus:
    ACTIVE = "active"
    PAUSED = "paused"
    """Autopilot stopped on a breached gate; a person resumes it (`autopilot on`)."""
    COMPLETED = "completed"


class CohortStatus:
    PENDING = "pending"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"


class Rollout(IdMixin, Base):
    """A staged rollout: cohorts promoted in order, behind gates."""

    __tablename__ = "rollouts"
    __table_args__ = (
        CheckConstraint("min_days IS NULL OR min_days >= 0", name="min_days_nonnegative"),
        CheckConstraint(
            "max_error_rate_bp IS NULL OR (max_error_rate_bp >= 0 AND max_error_rate_bp <= 10000)",
            name="max_error_rate_range",
        ),
        CheckConstraint(
            "max_refusal_rate_bp IS NULL OR "
            "(max_refusal_rate_bp >= 0 AND max_refusal_rate_bp <= 10000)",
            name="max_refusal_rate_range",
        ),
        CheckConstraint("holdout_bp >= 0 AND holdout_bp <= 10000", name="holdout_range"),
    )

    name: Mapped[str] = mapped_column(String(100), unique=True)
    goal: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default=RolloutStatus.ACTIVE)
    min_days: Mapped[int | None] = mapped_column(Integer)
    """Gate: days the previous cohort must have been promoted before the next one may be."""
    max_error_rate_bp: Mapped[int | None] = mapped_column(Integer)
    """Gate: the previous cohort's error rate since its promotion, in basis points (1/100 %)."""
    max_refusal_rate_bp: Mapped[int | None] = mapped_column(Integer)
    """Gate: the previous cohort's refusal rate since its promotion, in basis points."""
    holdout_bp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Share of members (basis points, by the rollout's stable hash) left out of every
    percentage cohort, as a lasting baseline."""
    autopilot: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """Promote, pause and roll back by itself (rollout_autopilot); off by default."""
    autopilot_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Window, minimum requests, gate bounds, allowed hours and days, freezes, approval size."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(320))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """The person who answers for the rollout; hears of each automatic decision."""


class RolloutWatcher(IdMixin, Base):
    """A person who hears of each automatic decision of a rollout (inbox and email)."""

    __tablename__ = "rollout_watchers"
    __table_args__ = (UniqueConstraint("rollout_id", "user_id"),)

    rollout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rollouts.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(320))


class RolloutCohort(IdMixin, Base):
    """One step of a rollout: who (users and/or groups) gets which models, package and caps."""

    __tablename__ = "rollout_cohorts"
    __table_args__ = (
        UniqueConstraint("rollout_id", "position"),
        UniqueConstraint("rollout_id", "name"),
        CheckConstraint("status IN ('pending', 'promoted', 'rolled_back')", name="status"),
        CheckConstraint(
            "percent_bp IS NULL OR (percent_bp > 0 AND percent_bp <= 10000)", name="percent_range"
        ),
        CheckConstraint(
            "monthly_cap_micros IS NULL OR monthly_cap_micros >= 0", name="monthly_cap_nonnegative"
        ),
        CheckConstraint(
            "member_monthly_cap_micros IS NULL OR member_monthly_cap_micros >= 0",
            name="member_monthly_cap_nonnegative",
        ),
    )

    rollout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rollouts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    """0 = the first cohort (the pilot)."""
    name: Mapped[str] = mapped_column(String(100))
    user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    group_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    everyone: Mapped[bool] = mapped_column(Boolean, default=False)
    """The cohort is every group of the workspace (at promotion time)."""
    percent_bp: Mapped[int | None] = mapped_column(Integer)
    """A percentage cohort: this share (basis points) of its groups' (or everyone's) members,
    picked by the rollout's stable hash; they get the models as grants, the groups are left as
    they are. None = whole groups."""
    exclude_user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    exclude_group_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Model patterns the cohort gets (added to its groups' allowed models, or granted)."""
    package: Mapped[str | None] = mapped_column(String(100))
    """The package (catalog name) assigned to the cohort's members and set as group default."""
    monthly_cap_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Monthly cap set on each of the cohort's groups, micros; None = left as it is."""
    member_monthly_cap_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Per-member monthly cap set on each of the cohort's groups, micros; None = unchanged."""
    status: Mapped[str] = mapped_column(String(16), default=CohortStatus.PENDING)
    promoted_at: Mapped[datetime | None] = mapped_column()
    rolled_back_at: Mapped[datetime | None] = mapped_column()
    undo: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What the promotion changed and the state before it, so a rollback reverses it exactly."""


class RolloutEvent(IdMixin, Base):
    """One row of a rollout's timeline: a gate reading, a decision, who or what made it. An
    automatic step carries a `step_key` unique per rollout, so it happens once across processes."""

    __tablename__ = "rollout_events"
    __table_args__ = (UniqueConstraint("rollout_id", "step_key"),)

    rollout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rollouts.id", ondelete="CASCADE"))
    cohort: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    """gates, promote, pause, rollback, scheduled, approval_needed, approved, autopilot_on/off."""
    step_key: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(320))
    outcome: Mapped[str | None] = mapped_column(String(16))
    explanation: Mapped[str] = mapped_column(String(2000), default="")
    gates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


class DraftStatus:
    DRAFT = "draft"
    PUBLISHED = "published"
    DISCARDED = "discarded"


class PolicyDraft(IdMixin, Base):
    """A proposed policy change (a group's policy, or a rollout cohort's promotion), with the
    stored result of its latest dry-run."""

    __tablename__ = "policy_drafts"
    __table_args__ = (
        CheckConstraint("kind IN ('group_policy', 'promotion')", name="kind"),
        CheckConstraint("status IN ('draft', 'published', 'discarded')", name="status"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[uuid.UUID] = mapped_column()
    """The group (group_policy) or the cohort (promotion)."""
    target_label: Mapped[str] = mapped_column(String(200))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """group_policy: the fields to set (as GroupPolicyChange); promotion: {}."""
    status: Mapped[str] = mapped_column(String(16), default=DraftStatus.DRAFT)
    dry_run: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dry_run_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(320))
    published_at: Mapped[datetime | None] = mapped_column()
    published_by: Mapped[str | None] = mapped_column(String(320))
