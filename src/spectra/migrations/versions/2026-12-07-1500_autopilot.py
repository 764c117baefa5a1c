"""rollouts: percentage cohorts (share, exclusions), a holdout, autopilot and a timeline

Revision ID: 0028_autopilot
Revises: 0024_budgets
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spectra.db.types

revision: str = "0028_autopilot"
down_revision: str | Sequence[str] | None = "0024_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("holdout_bp", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("autopilot", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "autopilot_settings", sa.JSON(), server_default=sa.text("'{}'"), nullable=False
            )
        )
        batch_op.create_check_constraint("holdout_range", "holdout_bp >= 0 AND holdout_bp <= 10000")
    with op.batch_alter_table("rollout_cohorts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("percent_bp", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("exclude_user_ids", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "exclude_group_ids", sa.JSON(), server_default=sa.text("'[]'"), nullable=False
            )
        )
        batch_op.create_check_constraint(
            "percent_range", "percent_bp IS NULL OR (percent_bp > 0 AND percent_bp <= 10000)"
        )
    op.create_table(
        "rollout_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rollout_id", sa.Uuid(), nullable=False),
        sa.Column("cohort", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("step_key", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("explanation", sa.String(length=2000), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.id"],
            name=op.f("fk_rollout_events_rollout_id_rollouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_events")),
        sa.UniqueConstraint(
            "rollout_id", "step_key", name=op.f("uq_rollout_events_rollout_id_step_key")
        ),
    )
    op.create_index(op.f("ix_rollout_events_at"), "rollout_events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rollout_events_at"), table_name="rollout_events")
    op.drop_table("rollout_events")
    with op.batch_alter_table("rollout_cohorts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_rollout_cohorts_percent_range"), type_="check")
        batch_op.drop_column("exclude_group_ids")
        batch_op.drop_column("exclude_user_ids")
        batch_op.drop_column("percent_bp")
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_rollouts_holdout_range"), type_="check")
        batch_op.drop_column("autopilot_settings")
        batch_op.drop_column("autopilot")
        batch_op.drop_column("holdout_bp")
