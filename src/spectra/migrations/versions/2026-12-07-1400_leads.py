"""Team leads and several groups per user: group_leads, group_memberships (every user's home
group copied in as primary), member_keys.group_id

Revision ID: 0026_leads
Revises: 0025_mfa
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from spectra.db.types import MicrosType, UtcDateTime
from spectra.kit.clock import utc_now

revision: str = "0026_leads"
down_revision: str | Sequence[str] | None = "0025_mfa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    memberships = op.create_table(
        "group_memberships",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_memberships_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_memberships")),
    )
    op.create_index(
        "uq_group_memberships_user_group", "group_memberships", ["user_id", "group_id"], unique=True
    )
    op.create_index("ix_group_memberships_group_id", "group_memberships", ["group_id"])
    op.create_table(
        "group_leads",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("approval_limit_micros", MicrosType(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "approval_limit_micros >= 0",
            name=op.f("ck_group_leads_approval_limit_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_leads_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_leads_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_leads")),
    )
    op.create_index(
        "uq_group_leads_user_group", "group_leads", ["user_id", "group_id"], unique=True
    )
    op.create_index("ix_group_leads_group_id", "group_leads", ["group_id"])
    with op.batch_alter_table("member_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_member_keys_group_id_groups"), "groups", ["group_id"], ["id"]
        )
    # every existing user's home group becomes their primary membership
    users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("group_id", sa.Uuid()))
    rows = op.get_bind().execute(sa.select(users.c.id, users.c.group_id)).all()
    now = utc_now()
    if rows:
        op.bulk_insert(
            memberships,
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": user_id,
                    "group_id": group_id,
                    "is_primary": True,
                    "created_at": now,
                }
                for user_id, group_id in rows
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("member_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_member_keys_group_id_groups"), type_="foreignkey")
        batch_op.drop_column("group_id")
    op.drop_index("ix_group_leads_group_id", table_name="group_leads")
    op.drop_index("uq_group_leads_user_group", table_name="group_leads")
    op.drop_table("group_leads")
    op.drop_index("ix_group_memberships_group_id", table_name="group_memberships")
    op.drop_index("uq_group_memberships_user_group", table_name="group_memberships")
    op.drop_table("group_memberships")
