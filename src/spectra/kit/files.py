"""Private files on disk: the data directory is 0700, the database and its WAL/SHM files 0600,
so other local users can read neither the ledger nor the key hashes."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create `path` (and parents) if needed and make it 0700 when this user owns it."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR)


def private_sqlite_files(database: str | os.PathLike[str]) -> None:
    """Make a SQLite database and its side files 0600 (those that exist and this user owns).

    SQLite creates the WAL and SHM files with the database file's own mode, so a database made
    0600 before its first transaction never has readable side files."""
    for suffix in SQLITE_SIDE_FILES:
        _tighten(Path(f"{os.fspath(database)}{suffix}"), PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & ~mode:
            os.chmod(path, mode)
