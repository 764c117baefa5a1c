"""rollouts: an owner and watchers (who hear of each automatic decision)

Revision ID: 0029_rollout_watchers
Revises: 0030_alert_counters
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spectra.db.types

revision: str = "0029_rollout_watchers"
down_revision: str | Sequence[str] | None = "0030_alert_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_rollouts_owner_id_users"),
            "users",
            ["owner_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "rollout_watchers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rollout_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.id"],
            name=op.f("fk_rollout_watchers_rollout_id_rollouts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_rollout_watchers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_watchers")),
        sa.UniqueConstraint(
            "rollout_id", "user_id", name=op.f("uq_rollout_watchers_rollout_id_user_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("rollout_watchers")
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_rollouts_owner_id_users"), type_="foreignkey")
        batch_op.drop_column("owner_id")
