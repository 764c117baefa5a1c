"""money: cache writes by lifetime (5 minutes / 1 hour) and web search calls, priced and kept

Revision ID: 0020_money
Revises: 0019_pool_account_kinds
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_money"
down_revision: str | Sequence[str] | None = "0019_pool_account_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("prices", schema=None) as batch_op:
        # NULL on rows written before: read as the documented rule (pricing.py).
        batch_op.add_column(sa.Column("cache_write_1h_price", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("web_search_price", sa.String(length=64), nullable=True))
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cache_write_1h_tokens", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("web_search_calls", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cache_write_1h_tokens", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("web_search_calls", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.drop_column("web_search_calls")
        batch_op.drop_column("cache_write_1h_tokens")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_column("web_search_calls")
        batch_op.drop_column("cache_write_1h_tokens")
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.drop_column("web_search_price")
        batch_op.drop_column("cache_write_1h_price")
