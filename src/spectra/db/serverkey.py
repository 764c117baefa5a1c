"""The server secret: loaded from settings or the data directory (generated there, mode 0600, on
first start), checked against the fingerprint stored in the database, and split into subkeys.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.config import Settings
from spectra.db.models import ServerIdentity
from spectra.db.session import Database, on_commit, session_scope
from spectra.errors import ConfigError
from spectra.kit import crypto
from spectra.kit.files import private_dir


class SecretKeyMismatchError(ConfigError):
    code = "secret_key_mismatch"


class SecretKeyMissingError(ConfigError):
    code = "secret_key_missing"


@dataclass(frozen=True)
class ServerKeys:
    """Subkeys derived from the server secret; the secret itself is never used directly."""

    secret: bytes
    credentials_version: int = 1
    hash_version: int = 1

    def credentials_key(self, version: int | None = None) -> bytes:
        return crypto.derive_subkey(
            self.secret, crypto.PURPOSE_CREDENTIALS, version or self.credentials_version
        )

    def seal(self, plaintext: str, *, associated: bytes) -> tuple[str, int]:
        """Encrypt a stored secret under the current credentials key, bound to `associated` (the
        id or name of the row that holds it): (sealed text, key version)."""
        version = self.credentials_version
        key = self.credentials_key(version)
        return crypto.encrypt(key, plaintext, version=version, associated=associated), version

    def unseal(self, sealed: str, *, associated: bytes, version: int | None = None) -> str:
        """Open a value from `seal` (the key version: `version`, else the one `sealed` names)."""
        key = self.credentials_key(version or crypto.ciphertext_version(sealed))
        return crypto.decrypt(key, sealed, associated=associated)

    @property
    def hash_key(self) -> bytes:
        return crypto.derive_subkey(self.secret, crypto.PURPOSE_KEY_HASH, self.hash_version)

    @property
    def session_key(self) -> bytes:
        return crypto.derive_subkey(self.secret, crypto.PURPOSE_SESSION, 1)

    @property
    def webhook_key(self) -> bytes:
        return crypto.derive_subkey(self.secret, crypto.PURPOSE_WEBHOOK, 1)

    @property
    def audit_chain_key(self) -> bytes:
        """Keys the audit chain's hashes (HMAC-SHA256): without it, no one can rewrite the chain."""
        return crypto.derive_subkey(self.secret, crypto.PURPOSE_AUDIT_CHAIN, 1)

    @property
    def audit_anchor_key(self) -> bytes:
        """Signs the audit chain's anchors kept outside the database."""
        return crypto.derive_subkey(self.secret, crypto.PURPOSE_AUDIT_ANCHOR, 1)

    @property
    def fingerprint(self) -> str:
        return crypto.fingerprint(self.secret)


_keys: ServerKeys | None = None


def _decode_secret(raw: str) -> bytes:
    text = raw.strip()
    padded = text + "=" * (-len(text) % 4)
    candidates: list[Callable[[], bytes]] = [
        lambda: bytes.fromhex(text),
        lambda: base64.urlsafe_b64decode(padded),
        lambda: base64.b64decode(padded),
    ]
    for decode in candidates:
        try:
            value = decode()
        except (ValueError, binascii.Error):
            continue
        if len(value) >= 32:
            return value
    raise ConfigError("The server secret must be at least 32 bytes, written as hex or base64.")


def load_secret(settings: Settings, *, create: bool) -> bytes:
    """Return the server secret; generate it into the data directory when allowed and absent."""
    if settings.secret_key is not None:
        return _decode_secret(settings.secret_key.get_secret_value())
    path: Path = settings.resolved_secret_file
    if path.exists():
        return _decode_secret(path.read_text())
    if not create:
        raise SecretKeyMissingError(
            f"The server secret file {path} is missing; restore it from your backup "
            "(without it, stored upstream credentials and key hashes cannot be used)."
        )
    if not path.parent.exists():
        private_dir(path.parent)
    secret = crypto.new_server_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    return secret


async def bind_secret(db: Database, secret: bytes) -> ServerKeys:
    """Check the secret against the database's fingerprint (recording it on first use)."""
    keys = ServerKeys(secret=secret)
    async with session_scope(db) as session:
        row = (
            await session.execute(select(ServerIdentity).where(ServerIdentity.id == 1))
        ).scalar_one_or_none()
        if row is None:
            session.add(ServerIdentity(id=1, secret_fingerprint=keys.fingerprint))
        elif row.secret_fingerprint != keys.fingerprint:
            raise SecretKeyMismatchError(
                "The server secret does not match the one this database was created with; "
                "restore the original secret key file (or SPECTRA_SECRET_KEY) before starting."
            )
        else:
            keys = ServerKeys(secret=secret, credentials_version=row.credentials_key_version)
    return keys


async def raise_credentials_version(session: AsyncSession) -> ServerKeys:
    """Move the credential subkey to its next version (in the caller's transaction) and make
    this process use it; returns the new keys. Member-key and token hashes are untouched."""
    row = (
        await session.execute(
            select(ServerIdentity).where(ServerIdentity.id == 1).with_for_update()
        )
    ).scalar_one()
    row.credentials_key_version = row.credentials_key_version + 1
    await session.flush()
    keys = replace(get_server_keys(), credentials_version=row.credentials_key_version)
    on_commit(session, lambda: set_server_keys(keys))
    return keys


async def has_identity(db: Database) -> bool:
    """Whether this database already recorded a server secret's fingerprint."""
    async with session_scope(db) as session:
        return (
            await session.execute(select(ServerIdentity.id).where(ServerIdentity.id == 1))
        ).first() is not None


def set_server_keys(keys: ServerKeys | None) -> None:
    global _keys
    _keys = keys


def get_server_keys() -> ServerKeys:
    if _keys is None:
        raise RuntimeError("The server secret is not loaded in this process.")
    return _keys
