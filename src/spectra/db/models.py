"""Tables owned by the base layer: the change feed, leases and the schema marker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base
from spectra.db.types import BigIntPK
from spectra.kit.clock import utc_now


class ChangeFeedEntry(Base):
    """One committed write that changed cached state: processes poll these to refresh caches."""

    __tablename__ = "change_feed"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


class Lease(Base):
    """A named lease: one process at a time serves (`serve`) or runs a job (`job:<name>`)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    info: Mapped[str] = mapped_column(String(500), default="")
    acquired_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column()
    """When the lease lapses unless renewed (UTC)."""


class ServerIdentity(Base):
    """The fingerprint of the server secret this database was created with (one row)."""

    __tablename__ = "server_identity"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_fingerprint: Mapped[str] = mapped_column(String(64))
    credentials_key_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Version of the credential-encryption subkey new ciphertexts use (raised by rotation)."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


Index("ix_change_feed_id_kind", ChangeFeedEntry.id, ChangeFeedEntry.kind)
