"""usage records: protocol served, fallback reason and trace; model fallback chains

Revision ID: 0016_fallbacks_served
Revises: 0015_pool_translation
Create Date: 2026-12-07 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spectra.db.types

revision: str = "0016_fallbacks_served"
down_revision: str | Sequence[str] | None = "0015_pool_translation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("protocol_served", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("fallback_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("fallback_trace", sa.String(length=500), nullable=True))
    # Before translation every served request was served in the protocol it was asked in.
    op.execute(
        "UPDATE usage_records SET protocol_served = protocol "
        "WHERE account_id IS NOT NULL AND protocol_served IS NULL"
    )
    op.create_table(
        "model_fallbacks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("chain", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_model_fallbacks_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_fallbacks")),
        sa.UniqueConstraint("model", "group_id", name=op.f("uq_model_fallbacks_model_group_id")),
    )


def downgrade() -> None:
    op.drop_table("model_fallbacks")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_column("fallback_trace")
        batch_op.drop_column("fallback_reason")
        batch_op.drop_column("protocol_served")
