"""budgets: key budgets, projects, budget extensions, usage_records.project_id

Revision ID: 0024_budgets
Revises: 0023_alerts
Create Date: 2026-12-07 13:31:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spectra.db.types

revision: str = "0024_budgets"
down_revision: str | Sequence[str] | None = "0023_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("monthly_budget_micros", spectra.db.types.MicrosType(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("is_header_allowed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("mode IN ('hard', 'soft', 'approval')", name=op.f("ck_projects_mode")),
        sa.CheckConstraint(
            "monthly_budget_micros IS NULL OR monthly_budget_micros > 0",
            name=op.f("ck_projects_budget_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "project_members",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_members_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_project_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_project_members")),
    )
    op.create_table(
        "budget_extensions",
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("amount_micros", spectra.db.types.MicrosType(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("requested_by_label", sa.String(length=200), nullable=False),
        sa.Column("decided_by_label", sa.String(length=200), nullable=True),
        sa.Column("expires_at", spectra.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", spectra.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_budget_extensions_status"),
        ),
        sa.CheckConstraint(
            "(key_id IS NULL) <> (project_id IS NULL)",
            name=op.f("ck_budget_extensions_one_subject"),
        ),
        sa.CheckConstraint("amount_micros > 0", name=op.f("ck_budget_extensions_amount_positive")),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["member_keys.id"],
            name=op.f("fk_budget_extensions_key_id_member_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_budget_extensions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_extensions")),
    )
    with op.batch_alter_table("budget_extensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budget_extensions_key_id"), ["key_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_budget_extensions_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "key_budgets",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("day_micros", spectra.db.types.MicrosType(), nullable=True),
        sa.Column("week_micros", spectra.db.types.MicrosType(), nullable=True),
        sa.Column("month_micros", spectra.db.types.MicrosType(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("tpm", sa.Integer(), nullable=True),
        sa.Column("concurrency", sa.Integer(), nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("clients", sa.JSON(), nullable=False),
        sa.Column("updated_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "mode IN ('hard', 'soft', 'approval')", name=op.f("ck_key_budgets_mode")
        ),
        sa.CheckConstraint(
            "concurrency IS NULL OR concurrency > 0",
            name=op.f("ck_key_budgets_concurrency_positive"),
        ),
        sa.CheckConstraint(
            "day_micros IS NULL OR day_micros > 0", name=op.f("ck_key_budgets_day_positive")
        ),
        sa.CheckConstraint(
            "month_micros IS NULL OR month_micros > 0", name=op.f("ck_key_budgets_month_positive")
        ),
        sa.CheckConstraint("rpm IS NULL OR rpm > 0", name=op.f("ck_key_budgets_rpm_positive")),
        sa.CheckConstraint("tpm IS NULL OR tpm > 0", name=op.f("ck_key_budgets_tpm_positive")),
        sa.CheckConstraint(
            "week_micros IS NULL OR week_micros > 0", name=op.f("ck_key_budgets_week_positive")
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["member_keys.id"],
            name=op.f("fk_key_budgets_key_id_member_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_key_budgets")),
    )
    op.create_table(
        "project_keys",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["member_keys.id"],
            name=op.f("fk_project_keys_key_id_member_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_project_keys")),
    )
    with op.batch_alter_table("project_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_keys_project_id"), ["project_id"], unique=False
        )

    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_usage_records_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_records_project_id"))
        batch_op.drop_column("project_id")

    with op.batch_alter_table("project_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_keys_project_id"))

    op.drop_table("project_keys")
    op.drop_table("key_budgets")
    with op.batch_alter_table("budget_extensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_extensions_project_id"))
        batch_op.drop_index(batch_op.f("ix_budget_extensions_key_id"))

    op.drop_table("budget_extensions")
    op.drop_table("project_members")
    op.drop_table("projects")
