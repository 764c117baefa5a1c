"""Backups: `spectra backup` / `spectra restore` round trip for SQLite and the secret key, a
`pg_dump` / `pg_restore` round trip for PostgreSQL, and rotation of the credential subkey."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select, update
from tests.conftest import CHECKOUT_TAG, PG_URL, _make_pg_database
from tests.factories import make_user

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.config import Settings
from spectra.db import migrate
from spectra.db.models import ServerIdentity
from spectra.db.serverkey import get_server_keys, set_server_keys
from spectra.db.session import read_scope, session_scope
from spectra.keys import service as keys_service
from spectra.keys.models import MemberKey
from spectra.kit import crypto
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.ledger.verify import verify_ledger
from spectra.pool import service as pool_service
from spectra.pool.credentials import unseal
from spectra.pool.models import PoolAccount
from spectra.pool.schemas import AccountCreate
from spectra.runtime import Runtime, build_runtime, close_runtime
from spectra.users.models import User

REPO = Path(__file__).resolve().parents[2]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spectra", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _populate(settings: Settings) -> tuple[str, uuid.UUID]:
    runtime = await build_runtime(settings)
    try:
        async with session_scope(runtime.db) as session:
            user = await make_user(session, email="backup@example.com")
            await ledger_service.recharge(
                session,
                local_actor(),
                user_id=user.id,
                amount=parse_amount("12.50"),
                memo="before backup",
                idempotency_key="backup-test",
            )
            return user.email, user.id
    finally:
        await close_runtime(runtime)


async def _check(settings: Settings, user_id: uuid.UUID) -> None:
    runtime = await build_runtime(settings)
    try:
        async with session_scope(runtime.db) as session:
            user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
            assert user.email == "backup@example.com"
            wallet = await ledger_service.wallet_account(session, user_id=user_id)
            assert await ledger_service.balance(session, wallet.id) == 12_500_000
            assert (await verify_ledger(session)).ok
    finally:
        await close_runtime(runtime)


class TestSqliteRoundTrip:
    async def test_backup_then_restore_into_an_empty_data_directory(self, tmp_path: Path) -> None:
        data = tmp_path / "data"
        env = {**os.environ, "SPECTRA_DATA_DIR": str(data)}
        for name in (
            "SPECTRA_DATABASE_URL",
            "SPECTRA_SECRET_KEY",
            "SPECTRA_CONFIG",
            "SPECTRA_REDIS_URL",
        ):
            env.pop(name, None)
        settings = Settings(data_dir=data, database_url=None, secret_key=None, redis_url=None)
        _, user_id = await _populate(settings)
        secret_before = (data / "secret.key").read_text()
        archive = tmp_path / "spectra-backup.tar.gz"
        done = _cli(env, "backup", str(archive))
        assert done.returncode == 0, done.stderr
        assert oct(archive.stat().st_mode & 0o777) == "0o600"

        refused = _cli(env, "restore", str(archive))
        assert refused.returncode != 0
        assert "--force" in refused.stderr

        shutil.rmtree(data)
        done = _cli(env, "restore", str(archive))
        assert done.returncode == 0, done.stderr
        assert (data / "secret.key").read_text() == secret_before
        assert oct((data / "secret.key").stat().st_mode & 0o777) == "0o600"
        await _check(settings, user_id)
        verify = _cli(env, "ledger", "verify")
        assert verify.returncode == 0, verify.stderr

    async def test_a_backup_taken_while_writes_commit_is_a_consistent_snapshot(
        self, tmp_path: Path
    ) -> None:
        data = tmp_path / "data"
        env = {**os.environ, "SPECTRA_DATA_DIR": str(data)}
        for name in (
            "SPECTRA_DATABASE_URL",
            "SPECTRA_SECRET_KEY",
            "SPECTRA_CONFIG",
            "SPECTRA_REDIS_URL",
        ):
            env.pop(name, None)
        settings = Settings(data_dir=data, database_url=None, secret_key=None, redis_url=None)
        _, user_id = await _populate(settings)
        archive = tmp_path / "online.tar.gz"
        runtime = await build_runtime(settings)
        written = 0
        try:
            # Recharges keep committing (each one transaction over several tables) while the
            # backup runs in another process, as they would while Spectra serves.
            backup = asyncio.ensure_future(asyncio.to_thread(_cli, env, "backup", str(archive)))
            while not backup.done() or written < 5:
                async with session_scope(runtime.db) as session:
                    await ledger_service.recharge(
                        session,
                        local_actor(),
                        user_id=user_id,
                        amount=parse_amount("1"),
                        memo="during backup",
                        idempotency_key=f"online-{written}",
                    )
                written += 1
            done = await backup
            assert done.returncode == 0, done.stderr
        finally:
            await close_runtime(runtime)
        restored = tmp_path / "restored"
        env_restored = {**env, "SPECTRA_DATA_DIR": str(restored)}
        done = _cli(env_restored, "restore", str(archive))
        assert done.returncode == 0, done.stderr
        snapshot = Settings(data_dir=restored, database_url=None, secret_key=None, redis_url=None)
        runtime = await build_runtime(snapshot)
        try:
            async with session_scope(runtime.db) as session:
                assert (await verify_ledger(session)).ok
                wallet = await ledger_service.wallet_account(session, user_id=user_id)
                balance = await ledger_service.balance(session, wallet.id)
        finally:
            await close_runtime(runtime)
        # Some prefix of the recharges, each whole: 12.50 plus a whole number of 1.00.
        assert (balance - 12_500_000) % 1_000_000 == 0
        assert 12_500_000 <= balance <= 12_500_000 + written * 1_000_000


@pytest.mark.postgres_only
class TestPgDumpRoundTrip:
    async def test_pg_dump_and_pg_restore_give_back_a_ledger_that_verifies(
        self, tmp_path: Path
    ) -> None:
        assert PG_URL
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        source = await _make_pg_database(PG_URL, f"spectra_dump_{CHECKOUT_TAG}_{worker}")
        target = await _make_pg_database(PG_URL, f"spectra_restored_{CHECKOUT_TAG}_{worker}")
        await migrate.upgrade(source)
        secret = crypto.new_server_secret().hex()
        settings = Settings(
            data_dir=tmp_path,
            database_url=source,
            secret_key=secret,
            auto_migrate=False,
        )
        _, user_id = await _populate(settings)
        dump = tmp_path / "spectra.dump"
        plain = source.replace("postgresql+asyncpg://", "postgresql://")
        subprocess.run(  # noqa: ASYNC221 - a test, the loop has nothing else to do
            ["pg_dump", "--format=custom", f"--file={dump}", plain], check=True
        )
        subprocess.run(  # noqa: ASYNC221
            [
                "pg_restore",
                "--no-owner",
                f"--dbname={target.replace('postgresql+asyncpg://', 'postgresql://')}",
                str(dump),
            ],
            check=True,
        )
        await _check(replace_settings(settings, target), user_id)


def replace_settings(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"database_url": url})


class TestRotateCredentialKey:
    async def test_reencrypts_pool_credentials_and_leaves_member_keys_alone(
        self, runtime: Runtime
    ) -> None:
        async with session_scope(runtime.db) as session:
            user = await make_user(session)
            key, key_secret = await keys_service.create_key(
                session, local_actor(), user_id=user.id, name="laptop"
            )
            account = await pool_service.add_account(
                session,
                local_actor(),
                data=AccountCreate.model_validate(
                    {
                        "name": "rotating",
                        "provider": "anthropic",
                        "base_url": "https://api.anthropic.com",
                        "api_key": "sk-ant-rotate-me-1234",
                        "models": ["claude-*"],
                    }
                ),
            )
            hash_before, cipher_before = key.hash, account.credential_ciphertext
        try:
            async with session_scope(runtime.db) as session:
                assert await pool_service.rotate_credential_key(session, local_actor()) == 1
            keys = get_server_keys()
            assert keys.credentials_version == 2
            async with read_scope(runtime.db) as session:
                row = await session.get(PoolAccount, account.id)
                assert row is not None
                assert row.credential_key_version == 2
                assert row.credential_ciphertext != cipher_before
                assert (
                    unseal(keys.credentials_key(2), row.id, row.credential_ciphertext).reveal()
                    == "sk-ant-rotate-me-1234"
                )
                member_key = await session.get(MemberKey, key.id)
                assert member_key is not None
                assert member_key.hash == hash_before
                identity = await session.get(ServerIdentity, 1)
                assert identity is not None
                assert identity.credentials_key_version == 2
                event = (
                    await session.execute(
                        select(AuditEvent).where(AuditEvent.action == "pool.credential_key_rotated")
                    )
                ).scalar_one()
                assert event.before == {"version": 1}
                assert event.after == {"version": 2}
                assert "sk-ant" not in str(event.details)
            async with session_scope(runtime.db) as session:
                found = await keys_service.authenticate_key(session, key_secret)
                assert found.id == key.id
        finally:
            async with session_scope(runtime.db) as session:
                await session.execute(update(ServerIdentity).values(credentials_key_version=1))
            set_server_keys(replace(get_server_keys(), credentials_version=1))
