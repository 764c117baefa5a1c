"""pool accounts: is_translation_allowed (may an account serve callers of another protocol)

Existing accounts keep taking translated traffic (true), as they have since translation
landed: it only reaches an account for a model it already lists, when no account of the
caller's protocol can serve it.

Revision ID: 0015_pool_translation
Revises: 0014_audit_keyed_chain
Create Date: 2026-12-07 10:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_pool_translation"
down_revision: str | Sequence[str] | None = "0014_audit_keyed_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pool_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "is_translation_allowed", sa.Boolean(), server_default=sa.true(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("pool_accounts", schema=None) as batch_op:
        batch_op.drop_column("is_translation_allowed")
