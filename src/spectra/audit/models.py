"""The audit event table: append-only, each row chained to the previous by hash."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base
from spectra.db.types import BigIntPK


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    """Sequence number, assigned under the chain lock; the chain order."""
    occurred_at: Mapped[datetime] = mapped_column()
    """When the action happened (UTC)."""
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_label: Mapped[str] = mapped_column(String(320))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(64))
    target_label: Mapped[str | None] = mapped_column(String(320))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainState(Base):
    """One row: how far the chain was written before it was keyed. Absent means 0."""

    __tablename__ = "audit_chain_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    legacy_until: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Events 1..legacy_until carry plain SHA-256 hashes (v1, written before keying); every
    later event must carry the keyed hash. Set once by the migration that keyed the chain and
    pinned into every anchor, so raising it here is caught by the anchors."""


Index("ix_audit_events_action_id", AuditEvent.action, AuditEvent.id)
Index("ix_audit_events_occurred_at", AuditEvent.occurred_at)
Index("ix_audit_events_target", AuditEvent.target_type, AuditEvent.target_id)
Index("ix_audit_events_actor", AuditEvent.actor_label, AuditEvent.id)
