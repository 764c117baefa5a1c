"""alerts: gateway_counters, each gateway process's counts of events it does not persist per
request (settlement_backlog refusals), for the detection sweep

Revision ID: 0030_alert_counters
Revises: 0033_known_devices
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spectra.db.types

revision: str = "0030_alert_counters"
down_revision: str | Sequence[str] | None = "0033_known_devices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = spectra.db.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gateway_counters",
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", _AT, nullable=False),
        sa.Column("reported_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("process", "name", name=op.f("pk_gateway_counters")),
    )
    op.create_index(
        "ix_gateway_counters_name_changed_at", "gateway_counters", ["name", "changed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_gateway_counters_name_changed_at", table_name="gateway_counters")
    op.drop_table("gateway_counters")
