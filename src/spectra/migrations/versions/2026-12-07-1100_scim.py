"""SCIM provisioning: users.external_id, users.scim_user_name, groups.external_id, admin_tokens.scope

Revision ID: 0018_scim
Revises: 0017_sso
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_scim"
down_revision: str | Sequence[str] | None = "0017_sso"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("scim_user_name", sa.String(length=320), nullable=True))
    op.create_index("uq_users_external_id", "users", ["external_id"], unique=True)
    op.create_index("uq_users_scim_user_name", "users", ["scim_user_name"], unique=True)
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
    op.create_index("uq_groups_external_id", "groups", ["external_id"], unique=True)
    with op.batch_alter_table("admin_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_tokens", schema=None) as batch_op:
        batch_op.drop_column("scope")
    op.drop_index("uq_groups_external_id", table_name="groups")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_column("external_id")
    op.drop_index("uq_users_scim_user_name", table_name="users")
    op.drop_index("uq_users_external_id", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("scim_user_name")
        batch_op.drop_column("external_id")
