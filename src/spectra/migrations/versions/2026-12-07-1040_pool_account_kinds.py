"""pool accounts: the gemini, azure_openai, bedrock and vertex kinds, and their settings

Revision ID: 0019_pool_account_kinds
Revises: 0018_scim
Create Date: 2026-12-07 10:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_pool_account_kinds"
down_revision: str | Sequence[str] | None = "0018_scim"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("anthropic", "openai", "openai_compatible")
_NEW = (*_OLD, "gemini", "azure_openai", "bedrock", "vertex")


def upgrade() -> None:
    with op.batch_alter_table("pool_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("settings", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch_op.drop_constraint(op.f("ck_pool_accounts_provider"), type_="check")
        batch_op.create_check_constraint("provider", f"provider IN {_NEW!r}")


def downgrade() -> None:
    with op.batch_alter_table("pool_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_pool_accounts_provider"), type_="check")
        batch_op.create_check_constraint("provider", f"provider IN {_OLD!r}")
        batch_op.drop_column("settings")
