"""scaleout: the current credential-encryption subkey version on the server identity

Revision ID: 0011_scaleout
Revises: 0010_refusal_message
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_scaleout"
down_revision: str | Sequence[str] | None = "0010_refusal_message"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("server_identity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credentials_key_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("server_identity", schema=None) as batch_op:
        batch_op.drop_column("credentials_key_version")
