"""Member API keys and admin API tokens: only keyed hashes and display prefixes are stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spectra.db.base import Base, IdMixin, TimestampMixin
from spectra.kit.clock import utc_now

if TYPE_CHECKING:
    from spectra.users.models import User

KEY_ACTIVE = "active"
KEY_REVOKED = "revoked"
KEY_EXPIRED = "expired"
"""Stored status is `active` or `revoked`; `expired` is derived from the expiry columns."""


class MemberKey(IdMixin, TimestampMixin, Base):
    """A member's key for the gateway (`sk-spectra-...`)."""

    __tablename__ = "member_keys"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
        CheckConstraint(
            "expires_after_first_use_days IS NULL OR expires_after_first_use_days > 0",
            name="first_use_days_positive",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("groups.id"))
    """The group this key's spend is attributed to (one of the user's groups); None = the
    user's primary group."""
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(40))
    """Display form (`sk-spectra-AbCd…wxYz`): never enough to rebuild the secret."""
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    """HMAC-SHA256 of the secret under the server's key-hash subkey, hex."""
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Model glob patterns the key may use; empty = any model."""
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Client networks (CIDR, normalised) the key may be used from; empty = anywhere."""
    status: Mapped[str] = mapped_column(String(16), default=KEY_ACTIVE)
    last_used_at: Mapped[datetime | None] = mapped_column()
    """Last gateway or API use (UTC), flushed in batches every few seconds."""
    expires_at: Mapped[datetime | None] = mapped_column()
    """Fixed expiry (UTC); a date given by an admin means the end of that day in UTC."""
    expires_after_first_use_days: Mapped[int | None] = mapped_column()
    first_used_at: Mapped[datetime | None] = mapped_column()
    """First use (UTC), persisted once; starts the `expires_after_first_use_days` clock."""
    use_expires_at: Mapped[datetime | None] = mapped_column()
    """first_used_at + expires_after_first_use_days (UTC), set with first_used_at."""
    rotated_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("member_keys.id"))
    grace_until: Mapped[datetime | None] = mapped_column()
    """Set on a key that was rotated: it keeps working until then (UTC), then stops."""
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(500))

    user: Mapped[User] = relationship(lazy="raise")

    def effective_expires_at(self) -> datetime | None:
        return _earliest(self.expires_at, self.use_expires_at)

    @property
    def effective_expiry(self) -> datetime | None:
        """`effective_expires_at()`, as an attribute for read models."""
        return self.effective_expires_at()

    @property
    def status_now(self) -> str:
        """`effective_status` at this moment (what a read answer shows)."""
        return self.effective_status(utc_now())

    def effective_status(self, now: datetime) -> str:
        """`active`, `revoked` (also a rotated key past its grace) or `expired`, at `now`."""
        if self.status == KEY_REVOKED or (self.grace_until is not None and self.grace_until <= now):
            return KEY_REVOKED
        expiry = self.effective_expires_at()
        if expiry is not None and expiry <= now:
            return KEY_EXPIRED
        return KEY_ACTIVE

    def audit_view(self) -> dict[str, Any]:
        """What the audit log keeps of a key: never its hash."""
        return {
            "name": self.name,
            "prefix": self.prefix,
            "user_id": str(self.user_id),
            "scopes": list(self.scopes),
            "ip_allowlist": list(self.ip_allowlist),
            "status": self.status,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "expires_after_first_use_days": self.expires_after_first_use_days,
            "grace_until": self.grace_until.isoformat() if self.grace_until else None,
        }


Index("ix_member_keys_user_id", MemberKey.user_id)
Index("ix_member_keys_created_at_id", MemberKey.created_at, MemberKey.id)


class AdminToken(IdMixin, TimestampMixin, Base):
    """A user's token for the REST API and `spectra --server` (`st-spectra-...`), with their role."""

    __tablename__ = "admin_tokens"
    __table_args__ = (CheckConstraint("status IN ('active', 'revoked')", name="status"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(40))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    """HMAC-SHA256 of the secret under the server's key-hash subkey, hex."""
    is_read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    scope: Mapped[str | None] = mapped_column(String(16))
    """None: the REST API with the user's role; `scim`: only /scim/v2 (directory provisioning)."""
    status: Mapped[str] = mapped_column(String(16), default=KEY_ACTIVE)
    expires_at: Mapped[datetime | None] = mapped_column()
    """When the token stops working (UTC); None = until revoked."""
    last_used_at: Mapped[datetime | None] = mapped_column()
    """Last use (UTC), written at most once a minute per token."""
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="raise")

    @property
    def read_only(self) -> bool:
        return self.is_read_only

    @property
    def status_now(self) -> str:
        """`effective_status` at this moment (what a read answer shows)."""
        return self.effective_status(utc_now())

    def effective_status(self, now: datetime) -> str:
        if self.status == KEY_REVOKED:
            return KEY_REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return KEY_EXPIRED
        return KEY_ACTIVE

    def audit_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "name": self.name,
            "prefix": self.prefix,
            "user_id": str(self.user_id),
            "read_only": self.is_read_only,
            "status": self.status,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
        if self.scope is not None:
            view["scope"] = self.scope
        return view


Index("ix_admin_tokens_user_id", AdminToken.user_id)
Index("ix_admin_tokens_created_at_id", AdminToken.created_at, AdminToken.id)


def _earliest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None
