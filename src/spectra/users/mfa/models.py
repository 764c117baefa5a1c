"""Second-factor rows: a user's TOTP seed (encrypted), recovery codes (hashed), passkeys, and the
single-use WebAuthn challenges the browser signs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
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


class Passkey(IdMixin, Base):
    """A WebAuthn credential: a second factor, and (discoverable) a passwordless sign-in."""

    __tablename__ = "user_passkeys"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    """base64url of the credential id the authenticator chose."""
    public_key: Mapped[str] = mapped_column(String(2000))
    """base64url of the COSE public key (public; nothing secret is stored for a passkey)."""
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None] = mapped_column()


class WebauthnChallenge(IdMixin, Base):
    """A challenge handed to the browser: spent by the first response that carries it."""

    __tablename__ = "webauthn_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    """`register`, `second_factor`, `passwordless` or `step_up`."""
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    """The user it was issued to; None for a passwordless sign-in (the passkey says who)."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


Index("ix_user_recovery_codes_user_id", RecoveryCode.user_id)
Index("ix_user_passkeys_user_id", Passkey.user_id)
