"""known devices: a keyed hash per device (browser cookie + user-agent family) a user signed
in from, so a sign-in from a new one is mailed

Revision ID: 0033_known_devices
Revises: 0028_autopilot
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spectra.db.types

revision: str = "0033_known_devices"
down_revision: str | Sequence[str] | None = "0028_autopilot"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = spectra.db.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user_known_devices",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("first_seen_at", _TIME, nullable=False),
        sa.Column("last_seen_at", _TIME, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_known_devices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_known_devices")),
        sa.UniqueConstraint("device_hash", name=op.f("uq_user_known_devices_device_hash")),
    )
    op.create_index(
        "ix_user_known_devices_user_id", "user_known_devices", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_user_known_devices_user_id", table_name="user_known_devices")
    op.drop_table("user_known_devices")
