"""Users, groups, console sign-in sessions, known devices and one-time password-setup links."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spectra.db.base import Base, IdMixin, TimestampMixin
from spectra.db.types import MicrosType
from spectra.kit.clock import utc_now

DEFAULT_GROUP = "default"

ROLES = ("owner", "admin", "billing", "auditor", "member")
STATUSES = ("invited", "active", "suspended", "removed")


class Group(IdMixin, TimestampMixin, Base):
    """A team: what policy, budgets and shared balances attach to."""

    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint(
            "monthly_cap_micros IS NULL OR monthly_cap_micros >= 0", name="monthly_cap_nonnegative"
        ),
        CheckConstraint(
            "member_monthly_cap_micros IS NULL OR member_monthly_cap_micros >= 0",
            name="member_monthly_cap_nonnegative",
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    """The name lower-cased: group names are unique regardless of case."""
    description: Mapped[str] = mapped_column(String(1000), default="")
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    monthly_cap_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Monthly spend cap for the whole group, micros of the workspace currency; None = no cap."""
    member_monthly_cap_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Monthly spend cap per member of the group, micros; None = no cap."""
    external_id: Mapped[str | None] = mapped_column(String(200))
    """The identity provider's id for this group (SCIM `externalId`); unique when set."""


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role_known"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status_known"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    email: Mapped[str] = mapped_column(String(320))
    """Stored lower-cased; unique."""
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    """argon2id hash; None until a password is set."""
    credential_issued_by: Mapped[str | None] = mapped_column(String(320))
    """Who set the current password when it was not its owner (an admin's set-password, or a
    setup link another user issued): their actor label; None once the owner chose it
    themselves. Such an account is no independent four-eyes approver (ledger four_eyes)."""
    status_reason: Mapped[str | None] = mapped_column(String(500))
    last_seen_at: Mapped[datetime | None] = mapped_column()
    """Last console sign-in (UTC)."""
    external_id: Mapped[str | None] = mapped_column(String(200))
    """The identity provider's id for this user (SCIM `externalId`); unique when set."""
    scim_user_name: Mapped[str | None] = mapped_column(String(320))
    """SCIM `userName` when the provider's differs from the email; None = the email."""

    group: Mapped[Group] = relationship(lazy="raise")

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None


class UserSession(IdMixin, Base):
    """A console sign-in. Only a keyed hash of the session token is stored."""

    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """HMAC-SHA256 of the session token under the session subkey of the server secret."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column()
    """Absolute expiry (UTC); the session is refused from then on."""
    ended_at: Mapped[datetime | None] = mapped_column()
    """When the user signed out or an admin action ended it (UTC); None while live."""
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    method: Mapped[str | None] = mapped_column(String(32))
    """How the user signed in: `password`, `password+totp`, `password+recovery_code`,
    `password+passkey`, `passkey` or `sso`; None for sessions older than second factors."""
    second_factor_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    """The password was right and a second factor is still owed: the session opens no page but
    the second-factor step, and it lives only minutes."""
    authenticated_at: Mapped[datetime | None] = mapped_column()
    """When the user last proved who they are in this session (sign-in or step-up, UTC); step-up
    asks again once this is older than the workspace's `step_up_minutes`."""


class KnownDevice(IdMixin, Base):
    """A device a user signed in from: a keyed hash of (user, the browser's device cookie, the
    user-agent family). A sign-in from a device not in this table is mailed to the user."""

    __tablename__ = "user_known_devices"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    device_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    """The user-agent family, e.g. `Firefox on Linux` (what the mail and the sessions page say)."""
    first_seen_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=utc_now)


class PasswordSetupLink(IdMixin, Base):
    """A one-time link to set a password: hashed token, expiry, single use."""

    __tablename__ = "password_setup_links"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """HMAC-SHA256 of the link token under the session subkey of the server secret."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(320))
    """The actor label that generated the link."""
    expires_at: Mapped[datetime] = mapped_column()
    """After this time (UTC) the link is refused."""
    used_at: Mapped[datetime | None] = mapped_column()
    """When the link set a password (UTC), or when a newer link replaced it; None while usable."""


class GroupMembership(IdMixin, Base):
    """A user's membership of a group. The primary one mirrors `users.group_id` (it funds by
    default); the others are secondary (a project team the member also works in)."""

    __tablename__ = "group_memberships"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class GroupLead(IdMixin, Base):
    """A user who leads a group: manages its members within the limit an admin set."""

    __tablename__ = "group_leads"
    __table_args__ = (
        CheckConstraint("approval_limit_micros >= 0", name="approval_limit_nonnegative"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    approval_limit_micros: Mapped[int] = mapped_column(MicrosType, default=0)
    """The most money (micros) this lead may approve or move at once; 0 = none."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(320))


Index("uq_users_email", User.email, unique=True)
Index(
    "uq_group_memberships_user_group",
    GroupMembership.user_id,
    GroupMembership.group_id,
    unique=True,
)
Index("ix_group_memberships_group_id", GroupMembership.group_id)
Index("uq_group_leads_user_group", GroupLead.user_id, GroupLead.group_id, unique=True)
Index("ix_group_leads_group_id", GroupLead.group_id)
Index("uq_users_external_id", User.external_id, unique=True)
Index("uq_users_scim_user_name", User.scim_user_name, unique=True)
Index("ix_users_group_id", User.group_id)
Index("uq_groups_external_id", Group.external_id, unique=True)
Index("ix_users_created_at_id", User.created_at, User.id)
Index("ix_user_sessions_user_id", UserSession.user_id)
Index("ix_password_setup_links_user_id", PasswordSetupLink.user_id)
from spectra.users.mfa import models as _mfa_models  # noqa: E402, F401  (Alembic and the mapper see them)
from spectra.users.sso import models as _sso_models  # noqa: E402, F401  (Alembic and the mapper see SSO tables)
