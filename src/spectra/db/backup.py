"""Backups of the embedded installation: the SQLite database (SQLite's online backup API, so a
running server keeps serving and the copy is one consistent snapshot) and the server secret,
in one `.tar.gz` with a manifest. PostgreSQL is backed up with `pg_dump` (docs/operations.md);
for it the archive carries the secret only.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spectra.config import Settings
from spectra.errors import ConfigError, ConflictError, InvalidError
from spectra.kit import crypto
from spectra.kit.clock import utc_now

DATABASE_MEMBER = "spectra.db"
SECRET_MEMBER = "secret.key"
MANIFEST_MEMBER = "manifest.json"


class BackupInvalidError(InvalidError):
    code = "backup_invalid"


class RestoreTargetExistsError(ConflictError):
    code = "restore_target_exists"


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    has_database: bool
    secret_fingerprint: str
    created_at: str


def sqlite_path(settings: Settings) -> Path:
    url = settings.resolved_database_url
    return Path(url.split(":///", 1)[1])


def _secret_text(settings: Settings) -> str:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().strip() + "\n"
    path = settings.resolved_secret_file
    if not path.exists():
        raise ConfigError(f"The server secret file {path} does not exist; nothing to back up.")
    return path.read_text()


def _decode(text: str) -> bytes:
    from spectra.db.serverkey import _decode_secret

    return _decode_secret(text)


def create_backup(settings: Settings, destination: Path) -> BackupSummary:
    """Write the archive: a consistent copy of the SQLite database (while it may be serving)
    and the secret key. Never overwrites an existing file."""
    if destination.exists():
        raise RestoreTargetExistsError(
            f"{destination} already exists; choose a new file name for the backup."
        )
    secret = _secret_text(settings)
    fingerprint = crypto.fingerprint(_decode(secret))
    created = utc_now().isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        copy: Path | None = None
        if settings.is_sqlite:
            source_path = sqlite_path(settings)
            if not source_path.exists():
                raise ConfigError(f"The database {source_path} does not exist; nothing to back up.")
            copy = Path(tmp) / DATABASE_MEMBER
            source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        manifest = {
            "format": 1,
            "created_at": created,
            "database": "sqlite" if copy is not None else "postgresql (use pg_dump)",
            "secret_fingerprint": fingerprint,
        }
        partial = destination.with_name(destination.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            _add_bytes(tar, MANIFEST_MEMBER, json.dumps(manifest, indent=2).encode())
            _add_bytes(tar, SECRET_MEMBER, secret.encode(), mode=0o600)
            if copy is not None:
                tar.add(copy, arcname=DATABASE_MEMBER)
        os.chmod(partial, 0o600)
        os.replace(partial, destination)
    return BackupSummary(destination, copy is not None, fingerprint, created)


def restore_backup(settings: Settings, archive: Path, *, force: bool = False) -> BackupSummary:
    """Put the archive's database and secret key back in place (stop the server first).
    Refuses to overwrite existing files unless `force`."""
    if not archive.exists():
        raise BackupInvalidError(f"{archive} does not exist.")
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the `with` below
    except (tarfile.TarError, OSError) as exc:
        raise BackupInvalidError(f"{archive} is not a Spectra backup archive.") from exc
    with tar, tempfile.TemporaryDirectory() as tmp:
        names = set(tar.getnames())
        if not {MANIFEST_MEMBER, SECRET_MEMBER} <= names:
            raise BackupInvalidError(f"{archive} is not a Spectra backup archive.")
        manifest = json.loads(_read(tar, MANIFEST_MEMBER))
        secret = _read(tar, SECRET_MEMBER).decode()
        if crypto.fingerprint(_decode(secret)) != manifest.get("secret_fingerprint"):
            raise BackupInvalidError("The archive's secret key does not match its manifest.")
        has_db = DATABASE_MEMBER in names
        db_path = sqlite_path(settings) if settings.is_sqlite else None
        secret_path = settings.resolved_secret_file
        targets = [p for p in (db_path if has_db else None, secret_path) if p is not None]
        if not force and any(p.exists() for p in targets):
            raise RestoreTargetExistsError(
                "The data directory already has a database or secret key; stop the server and "
                "pass --force to replace them."
            )
        if has_db:
            if db_path is None:
                raise BackupInvalidError(
                    "This archive holds a SQLite database but SPECTRA_DATABASE_URL is PostgreSQL; "
                    "restore PostgreSQL with pg_restore (docs/operations.md)."
                )
            tar.extract(DATABASE_MEMBER, tmp, filter="data")
            db_path.parent.mkdir(parents=True, exist_ok=True)
            staged = db_path.with_name(db_path.name + ".restoring")
            source = sqlite3.connect(Path(tmp) / DATABASE_MEMBER)
            target = sqlite3.connect(staged)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            for suffix in ("-wal", "-shm"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
            os.replace(staged, db_path)
        if settings.secret_key is None:
            secret_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secret)
        return BackupSummary(
            archive, has_db, str(manifest["secret_fingerprint"]), str(manifest["created_at"])
        )


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, *, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(name)
    if member is None:
        raise BackupInvalidError(f"The archive's {name} is not a file.")
    with member:
        return member.read()
