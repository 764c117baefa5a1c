"""The data directory is 0700 and the SQLite database with its WAL and SHM files 0600, whatever
the umask: other local users read neither the ledger nor the key hashes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import TEST_SECRET

from spectra.config import Settings
from spectra.db.session import session_scope
from spectra.runtime import build_runtime, close_runtime
from spectra.users import service as users_service


@pytest.fixture(autouse=True)
def _lax_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _open_and_write(data_dir: Path) -> dict[str, int]:
    """Modes while the database is open after a write (WAL and SHM exist only then)."""
    runtime = await build_runtime(Settings(data_dir=data_dir, secret_key=TEST_SECRET))
    try:
        async with session_scope(runtime.db) as session:
            await users_service.ensure_owner(session, email="owner@example.com")
        return {
            name: _mode(data_dir / name)
            for name in ("spectra.db", "spectra.db-wal", "spectra.db-shm")
        }
    finally:
        await close_runtime(runtime)


async def test_a_new_data_directory_and_database_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    modes = await _open_and_write(data_dir)
    assert _mode(data_dir) == 0o700
    assert modes == {"spectra.db": 0o600, "spectra.db-wal": 0o600, "spectra.db-shm": 0o600}


async def test_an_existing_open_directory_and_database_are_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await _open_and_write(data_dir)
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "spectra.db", 0o644)
    modes = await _open_and_write(data_dir)
    assert _mode(data_dir) == 0o700
    assert set(modes.values()) == {0o600}
