"""single sign-on: OIDC providers and sign-in attempts

Revision ID: 0017_sso
Revises: 0016_fallbacks_served
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spectra.db.types

revision: str = "0017_sso"
down_revision: str | Sequence[str] | None = "0016_fallbacks_served"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sso_providers",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=300), nullable=False),
        sa.Column("client_secret_ciphertext", sa.String(length=2000), nullable=False),
        sa.Column("secret_key_version", sa.Integer(), nullable=False),
        sa.Column("client_secret_last4", sa.String(length=4), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("allowed_domains", sa.JSON(), nullable=False),
        sa.Column("groups_claim", sa.String(length=100), nullable=True),
        sa.Column("group_mappings", sa.JSON(), nullable=False),
        sa.Column("require_sso", sa.Boolean(), nullable=False),
        sa.Column("break_glass_user_id", sa.Uuid(), nullable=True),
        sa.Column("trust_email", sa.Boolean(), nullable=False),
        sa.Column("session_ttl_minutes", sa.Integer(), nullable=True),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["break_glass_user_id"],
            ["users.id"],
            name=op.f("fk_sso_providers_break_glass_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_providers")),
        sa.UniqueConstraint("name_key", name=op.f("uq_sso_providers_name_key")),
    )
    op.create_table(
        "sso_logins",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("next_path", sa.String(length=500), nullable=False),
        sa.Column("created_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", spectra.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", spectra.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("user_session_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["sso_providers.id"],
            name=op.f("fk_sso_logins_provider_id_sso_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sso_logins_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_session_id"],
            ["user_sessions.id"],
            name=op.f("fk_sso_logins_user_session_id_user_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_logins")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_sso_logins_state_hash")),
    )
    op.create_index("ix_sso_logins_provider_id", "sso_logins", ["provider_id"], unique=False)
    op.create_index(
        "ix_sso_logins_user_session_id", "sso_logins", ["user_session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sso_logins_user_session_id", table_name="sso_logins")
    op.drop_index("ix_sso_logins_provider_id", table_name="sso_logins")
    op.drop_table("sso_logins")
    op.drop_table("sso_providers")
