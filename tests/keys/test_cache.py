from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, insert, select

from spectra.audit.actor import local_actor
from spectra.db.changes import record_change
from spectra.db.session import Session, session_scope
from spectra.keys import errors
from spectra.keys import service as keys_service
from spectra.keys.cache import KeyCache, KeyEntry, current_cache, current_recorder
from spectra.keys.models import MemberKey
from spectra.keys.secrets import display_prefix, hash_secret, new_member_key
from spectra.kit import clock as clock_module
from spectra.runtime import Runtime
from spectra.users.models import User

from .factories import make_key, make_member

T = TypeVar("T")
DEADLINE_SECONDS = 15.0


async def eventually(check: Callable[[], T]) -> T:
    """Retry `check` until it stops raising; the deadline is generous, never a timing claim."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            return check()
        except (
            AssertionError,
            errors.InvalidApiKeyError,
            errors.KeyRevokedError,
            errors.UserSuspendedError,
        ):
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.02)


def raises(exc: type[Exception], fn: Callable[[], Any]) -> Callable[[], None]:
    def check() -> None:
        try:
            fn()
        except exc:
            return
        raise AssertionError(f"{exc.__name__} not raised yet")

    return check


async def committed_key(runtime: Runtime, **options: Any) -> tuple[User, MemberKey, str]:
    async with session_scope(runtime.db) as session:
        member = await make_member(session)
        key, secret = await make_key(session, member, **options)
    return member, key, secret


class TestLookup:
    async def test_a_new_key_reaches_the_cache_and_looks_up_without_the_database(
        self, runtime: Runtime
    ) -> None:
        member, key, secret = await committed_key(runtime, scopes=["claude-*"])
        cache = current_cache()
        entry: KeyEntry = await eventually(lambda: cache.lookup(secret, "127.0.0.1"))
        assert (entry.key_id, entry.user_id, entry.user_email) == (key.id, member.id, member.email)
        assert (entry.user_role, entry.user_status, entry.group_id) == (
            "member",
            "active",
            member.group_id,
        )
        assert entry.allows_model("claude-sonnet-4")
        assert not entry.allows_model("gpt-4o")

    async def test_a_revoke_through_the_service_reaches_the_cache(self, runtime: Runtime) -> None:
        _, key, secret = await committed_key(runtime)
        cache = current_cache()
        await eventually(lambda: cache.lookup(secret, None))
        async with session_scope(runtime.db) as session:
            await keys_service.revoke_key(session, local_actor(), key_id=key.id)
        await eventually(raises(errors.KeyRevokedError, lambda: cache.lookup(secret, None)))

    async def test_a_suspension_reaches_the_cache_through_the_users_change(
        self, runtime: Runtime
    ) -> None:
        member, _, secret = await committed_key(runtime)
        cache = current_cache()
        await eventually(lambda: cache.lookup(secret, None))
        async with session_scope(runtime.db) as session:
            user = await session.get(User, member.id)
            assert user is not None
            user.status = "suspended"
            await record_change(session, "users.status", member.id)
        await eventually(raises(errors.UserSuspendedError, lambda: cache.lookup(secret, None)))

    async def test_a_rotated_key_works_until_its_grace_ends(
        self, runtime: Runtime, clock: datetime
    ) -> None:
        _, key, old_secret = await committed_key(runtime)
        async with session_scope(runtime.db) as session:
            _, new_secret = await keys_service.rotate_key(
                session, local_actor(), key_id=key.id, grace=timedelta(hours=1)
            )
        cache = current_cache()
        await eventually(lambda: cache.lookup(new_secret, None))
        assert cache.lookup(old_secret, None).key_id == key.id
        clock_module.advance(timedelta(hours=1))
        with pytest.raises(errors.KeyRevokedError):
            cache.lookup(old_secret, None)

    async def test_ip_allowlist_and_expiry_are_checked(
        self, runtime: Runtime, clock: datetime
    ) -> None:
        _, _, secret = await committed_key(
            runtime,
            ip_allowlist=["10.0.0.0/8", "2001:db8::/32"],
            expires_at=clock + timedelta(days=1),
        )
        cache = current_cache()
        await eventually(lambda: cache.lookup(secret, "10.1.1.1"))
        assert cache.lookup(secret, "2001:db8::1")
        assert cache.lookup(secret, "::ffff:10.2.3.4")
        for ip in ("192.168.0.1", None, "not-an-ip"):
            with pytest.raises(errors.IpNotAllowedError) as caught:
                cache.lookup(secret, ip)
            assert caught.value.code == "ip_not_allowed"
        clock_module.advance(timedelta(days=1))
        with pytest.raises(errors.KeyExpiredError):
            cache.lookup(secret, "10.1.1.1")

    async def test_unknown_keys_are_invalid(self, runtime: Runtime) -> None:
        cache = current_cache()
        for secret in ("", "sk-spectra-", new_member_key(), "Bearer sk-spectra-x"):
            with pytest.raises(errors.InvalidApiKeyError) as caught:
                cache.lookup(secret, None)
            assert caught.value.code == "invalid_api_key"

    async def test_lookup_compares_the_hash_in_constant_time(
        self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _, _, secret = await committed_key(runtime)
        cache = current_cache()
        await eventually(lambda: cache.lookup(secret, None))
        calls: list[bytes] = []
        real = hmac.compare_digest

        def spy(a: bytes, b: bytes) -> bool:
            calls.append(a)
            return real(a, b)

        monkeypatch.setattr(hmac, "compare_digest", spy)
        cache.lookup(secret, None)
        assert calls == [hash_secret(secret).encode()]


class TestCacheMiss:
    async def test_a_key_the_cache_has_not_seen_yet_is_read_from_the_database_once(
        self, runtime: Runtime
    ) -> None:
        # A cache with no change feed and nothing loaded: another process, before the feed caught up.
        cache = KeyCache(hash_key=runtime.keys.hash_key, db=runtime.db)
        member, key, secret = await committed_key(runtime)
        with pytest.raises(errors.InvalidApiKeyError):
            cache.lookup(secret, None)
        entry = await cache.lookup_fresh(secret, None)
        assert (entry.key_id, entry.user_id) == (key.id, member.id)
        assert cache.lookup(secret, None).key_id == key.id  # now cached

    async def test_a_revoked_key_found_on_a_miss_is_refused_as_revoked(
        self, runtime: Runtime
    ) -> None:
        cache = KeyCache(hash_key=runtime.keys.hash_key, db=runtime.db)
        _, key, secret = await committed_key(runtime)
        async with session_scope(runtime.db) as session:
            await keys_service.revoke_key(session, local_actor(), key_id=key.id)
        with pytest.raises(errors.KeyRevokedError):
            await cache.lookup_fresh(secret, None)

    async def test_an_unknown_key_is_remembered_so_guessing_costs_no_queries(
        self, runtime: Runtime
    ) -> None:
        cache = KeyCache(hash_key=runtime.keys.hash_key, db=runtime.db)
        guess = new_member_key()
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(runtime.db.read_engine.sync_engine, "before_cursor_execute", count)
        try:
            for _ in range(5):
                with pytest.raises(errors.InvalidApiKeyError):
                    await cache.lookup_fresh(guess, None)
        finally:
            event.remove(runtime.db.read_engine.sync_engine, "before_cursor_execute", count)
        assert len([s for s in statements if "member_keys" in s]) == 1

    async def test_a_flood_of_distinct_made_up_keys_is_refused_from_memory_past_the_budget(
        self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("spectra.keys.cache.MISS_LOOKUPS_PER_SECOND", 3)
        cache = KeyCache(hash_key=runtime.keys.hash_key, db=runtime.db)
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(runtime.db.read_engine.sync_engine, "before_cursor_execute", count)
        try:
            for _ in range(20):
                with pytest.raises(errors.InvalidApiKeyError):
                    await cache.lookup_fresh(new_member_key(), None)
        finally:
            event.remove(runtime.db.read_engine.sync_engine, "before_cursor_execute", count)
        # Within one second at most 3 reads; a second boundary during the loop allows 3 more.
        assert len([s for s in statements if "member_keys" in s]) <= 6


class TestUses:
    async def test_first_use_is_persisted_through_the_committer_and_survives_a_reload(
        self, runtime: Runtime, clock: datetime
    ) -> None:
        _, key, secret = await committed_key(runtime, expires_after_first_use_days=2)
        cache = current_cache()
        entry = await eventually(lambda: cache.lookup(secret, None))
        assert entry.first_used_at == clock
        assert entry.effective_expires_at == clock + timedelta(days=2)
        await runtime.committer.flush()

        async def stored() -> MemberKey:
            async with session_scope(runtime.db) as session:
                return (
                    await session.execute(select(MemberKey).where(MemberKey.id == key.id))
                ).scalar_one()

        row = await stored()
        assert (row.first_used_at, row.use_expires_at) == (clock, clock + timedelta(days=2))
        fresh = KeyCache(hash_key=runtime.keys.hash_key, db=runtime.db)
        await fresh.load()
        clock_module.advance(timedelta(days=2))
        with pytest.raises(errors.KeyExpiredError):
            fresh.lookup(secret, None)

    async def test_last_used_is_collected_in_memory_and_flushed_in_a_batch(
        self, runtime: Runtime, clock: datetime
    ) -> None:
        _, key, secret = await committed_key(runtime)
        cache = current_cache()
        await eventually(lambda: cache.lookup(secret, None))
        clock_module.advance(timedelta(minutes=5))
        cache.lookup(secret, None)
        recorder = current_recorder()
        assert recorder is not None
        await recorder.flush()
        async with session_scope(runtime.db) as session:
            row = (
                await session.execute(select(MemberKey).where(MemberKey.id == key.id))
            ).scalar_one()
        assert row.last_used_at == clock + timedelta(minutes=5)


class TestLoad:
    async def test_ten_thousand_keys_load_in_one_query(self, session: Session) -> None:
        member = await make_member(session)
        secrets = [new_member_key() for _ in range(10_000)]
        await session.execute(
            insert(MemberKey),
            [
                {
                    "user_id": member.id,
                    "prefix": display_prefix(s),
                    "hash": hash_secret(s),
                    "scopes": ["claude-*"],
                    "ip_allowlist": ["10.0.0.0/8"],
                }
                for s in secrets
            ],
        )
        statements: list[str] = []
        conn = (await session.connection()).sync_connection
        assert conn is not None

        def count(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(conn, "before_cursor_execute", count)
        try:
            cache = KeyCache(hash_key=hash_secret.__globals__["get_server_keys"]().hash_key)
            started = time.perf_counter()
            loaded = await cache.load(session)
            elapsed = time.perf_counter() - started
        finally:
            event.remove(conn, "before_cursor_execute", count)
        assert loaded >= 10_000
        assert len(statements) == 1
        assert elapsed < 60, f"loading 10,000 keys took {elapsed:.1f}s"
        assert cache.lookup(secrets[1234], "10.0.0.1").user_id == member.id
