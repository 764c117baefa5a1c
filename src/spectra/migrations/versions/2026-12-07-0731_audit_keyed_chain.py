"""audit keyed chain: record how many events were written before the chain was keyed

Revision ID: 0014_audit_keyed_chain
Revises: 0013_usage_estimated
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_audit_keyed_chain"
down_revision: str | Sequence[str] | None = "0013_usage_estimated"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("legacy_until", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_state")),
    )
    # Events already written keep their plain SHA-256 hashes (verified as v1); every event
    # from here on is keyed.
    op.execute(
        "INSERT INTO audit_chain_state (id, legacy_until) "
        "SELECT 1, COALESCE(MAX(id), 0) FROM audit_events"
    )


def downgrade() -> None:
    op.drop_table("audit_chain_state")
