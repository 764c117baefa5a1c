"""Per-group policy switches the access decision reads (more group policy arrives later)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base
from spectra.kit.clock import utc_now


class GroupPolicy(Base):
    """A group's funding switches; a group without a row has both switches on (the default)."""

    __tablename__ = "group_policies"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    is_wallet_fallback: Mapped[bool] = mapped_column(Boolean, default=True)
    """Members may pay from their own wallet when their package allowances do not cover a request."""
    is_group_wallet_fallback: Mapped[bool] = mapped_column(Boolean, default=True)
    """Members may pay from the group wallet when allowances and their wallet do not cover it."""
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
