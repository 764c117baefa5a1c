"""Users and groups."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base, IdMixin, TimestampMixin
from spectra.db.types import MicrosType

DEFAULT_GROUP = "default"


class Group(IdMixin, TimestampMixin, Base):
    """A team: what policy, budgets and shared balances attach to."""

    __tablename__ = "groups"

    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    """The name lower-cased: group names are unique regardless of case."""
    description: Mapped[str] = mapped_column(String(1000), default="")
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    monthly_cap_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Monthly spend cap for the whole group, micros of the workspace currency; None = no cap."""
    member_monthly_cap_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Monthly spend cap per member of the group, micros; None = no cap."""


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320))
    """Stored lower-cased; unique."""
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    """argon2id hash; None until a password is set."""
    status_reason: Mapped[str | None] = mapped_column(String(500))
    last_seen_at: Mapped[datetime | None] = mapped_column()


Index("uq_users_email", User.email, unique=True)
Index("ix_users_group_id", User.group_id)
Index("ix_users_created_at_id", User.created_at, User.id)
