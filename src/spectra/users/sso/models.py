"""OIDC providers (settings, encrypted client secret) and pending or completed sign-ins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base, IdMixin, TimestampMixin
from spectra.kit.clock import utc_now


class SsoProvider(IdMixin, TimestampMixin, Base):
    """One OpenID Connect provider: what the console's sign-in button talks to."""

    __tablename__ = "sso_providers"

    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    """The name lower-cased: provider names are unique regardless of case."""
    issuer: Mapped[str] = mapped_column(String(500))
    """The issuer URL; discovery is `<issuer>/.well-known/openid-configuration`."""
    client_id: Mapped[str] = mapped_column(String(300))
    client_secret_ciphertext: Mapped[str] = mapped_column(String(2000))
    """AES-GCM under the credential subkey, bound to the provider id; never returned."""
    secret_key_version: Mapped[int] = mapped_column(Integer)
    client_secret_last4: Mapped[str] = mapped_column(String(4))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    allowed_domains: Mapped[list[str]] = mapped_column(JSON)
    """Email domains that may sign in (lower-case); empty = any domain."""
    groups_claim: Mapped[str | None] = mapped_column(String(100))
    group_mappings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """[{"claim": IdP group, "group": Spectra group name or None, "role": role or None}]."""
    require_sso: Mapped[bool] = mapped_column(Boolean, default=False)
    """When on, password sign-in is refused for everyone except the break-glass owner."""
    break_glass_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    trust_email: Mapped[bool] = mapped_column(Boolean, default=False)
    """Treat the provider's `email` as verified when it sends no `email_verified` (Entra ID
    sends none; an owner asserts the directory owns its addresses). An explicit false still
    refuses."""
    session_ttl_minutes: Mapped[int | None] = mapped_column(Integer)
    """Console session lifetime after an SSO sign-in; None = the server's default."""
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class SsoLogin(IdMixin, Base):
    """One sign-in attempt: created at the redirect, spent at the callback (single use).

    Only a keyed hash of `state` is stored; the PKCE verifier and the nonce are derived from
    `state` with the session subkey, so nothing here lets anyone finish the sign-in."""

    __tablename__ = "sso_logins"

    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sso_providers.id", ondelete="CASCADE")
    )
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    next_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column()
    """After this time (UTC) the callback is refused."""
    used_at: Mapped[datetime | None] = mapped_column()
    """When the callback spent it (UTC), whatever the outcome; None while pending."""
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="SET NULL")
    )
    """The console session the sign-in opened: sign-out finds its provider through it."""
    subject: Mapped[str | None] = mapped_column(String(300))
    """The ID token's `sub` once validated."""
    is_reauth: Mapped[bool] = mapped_column(Boolean, default=False)
    """A step-up re-authentication: asked with `prompt=login&max_age=0`, and the ID token's
    `auth_time` must be no older than this attempt."""


Index("ix_sso_logins_provider_id", SsoLogin.provider_id)
Index("ix_sso_logins_user_session_id", SsoLogin.user_session_id)
