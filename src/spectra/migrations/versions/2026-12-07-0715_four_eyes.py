"""four eyes for every money operation, and credential provenance

Revision ID: 0012_four_eyes
Revises: 0011_scaleout
Create Date: 2026-12-07 07:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_four_eyes"
down_revision: str | Sequence[str] | None = "0011_scaleout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_recharge_approvals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("operation", sa.String(length=16), server_default="recharge", nullable=False)
        )
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("requested_by_user_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("decided_by_credential", sa.String(length=400), nullable=True)
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_issued_by", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("credential_issued_by")
    with op.batch_alter_table("ledger_recharge_approvals", schema=None) as batch_op:
        batch_op.drop_column("decided_by_credential")
        batch_op.drop_column("requested_by_user_id")
        batch_op.drop_column("reason")
        batch_op.drop_column("payload")
        batch_op.drop_column("operation")
