"""Second-factor rows: a user's TOTP seed (encrypted) and recovery codes (hashed)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base, IdMixin
from spectra.kit.clock import utc_now


class TotpFactor(IdMixin, Base):
    """A user's authenticator app. One per user; unconfirmed until the first code matches."""

    __tablename__ = "user_totp_factors"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    seed_ciphertext: Mapped[str] = mapped_column(String(500))
    """AES-GCM of the base32 seed under the credential subkey, bound to the user id."""
    key_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    confirmed_at: Mapped[datetime | None] = mapped_column()
    """When the first code confirmed the enrolment (UTC); None = not in force yet."""
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    """The 30-second time step of the last accepted code: a code of this step or an earlier one
    is refused (replay)."""


class RecoveryCode(IdMixin, Base):
    """One single-use recovery code; only its keyed hash is stored."""

    __tablename__ = "user_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """HMAC-SHA256 under the session subkey of `<user id>:<normalised code>`."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    used_at: Mapped[datetime | None] = mapped_column()
    """When the code signed someone in (UTC); None while usable."""


Index("ix_user_recovery_codes_user_id", RecoveryCode.user_id)
