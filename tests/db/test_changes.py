from __future__ import annotations

import asyncio

from sqlalchemy import insert

from spectra.db.changes import Change, ChangeFeed, record_change
from spectra.db.models import ChangeFeedEntry
from spectra.db.session import session_scope
from spectra.kit.clock import utc_now
from spectra.runtime import Runtime


async def _wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.02)


class TestChangeFeed:
    async def test_a_committed_change_reaches_a_listener(self, runtime: Runtime) -> None:
        seen: list[Change] = []

        async def listener(changes: list[Change]) -> None:
            seen.extend(changes)

        runtime.feed.subscribe("keys.", listener)
        async with session_scope(runtime.db) as session:
            await record_change(session, "keys.revoked", "k1")
            await record_change(session, "pool.account", "a1")
        await _wait_for(lambda: len(seen) == 1)
        assert seen[0].kind == "keys.revoked"
        assert seen[0].entity_id == "k1"

    async def test_a_rolled_back_change_is_never_seen(self, runtime: Runtime) -> None:
        seen: list[Change] = []

        async def listener(changes: list[Change]) -> None:
            seen.extend(changes)

        runtime.feed.subscribe("", listener)
        try:
            async with session_scope(runtime.db) as session:
                await record_change(session, "keys.revoked", "k1")
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        async with session_scope(runtime.db) as session:
            await record_change(session, "keys.revoked", "k2")
        await _wait_for(lambda: len(seen) >= 1)
        await runtime.feed.poll_once()
        assert [c.entity_id for c in seen] == ["k2"]

    async def test_a_second_process_view_sees_changes_by_polling(self, runtime: Runtime) -> None:
        other = ChangeFeed(runtime.db, interval=0.05)
        seen: list[Change] = []

        async def listener(changes: list[Change]) -> None:
            seen.extend(changes)

        other.subscribe("users.", listener)
        await other.start()
        try:
            async with session_scope(runtime.db) as session:
                await record_change(session, "users.status", "u1")
            await _wait_for(lambda: len(seen) == 1)
        finally:
            await other.stop()

    async def test_a_late_commit_that_fills_a_gap_is_still_delivered(self, runtime: Runtime) -> None:
        feed = ChangeFeed(runtime.db, interval=10)
        seen: list[Change] = []

        async def listener(changes: list[Change]) -> None:
            seen.extend(changes)

        feed.subscribe("", listener)
        await feed.start()
        try:
            base = feed.last_id
            # Id base+2 commits first; base+1 belongs to a slower transaction that commits later.
            async with session_scope(runtime.db) as session:
                await session.execute(insert(ChangeFeedEntry).values(id=base + 2, kind="x.fast", entity_id="2", created_at=utc_now()))
            await feed.poll_once()
            assert [c.kind for c in seen] == ["x.fast"]
            async with session_scope(runtime.db) as session:
                await session.execute(insert(ChangeFeedEntry).values(id=base + 1, kind="x.slow", entity_id="1", created_at=utc_now()))
            await feed.poll_once()
            await feed.poll_once()
            assert [c.kind for c in seen] == ["x.fast", "x.slow"]
        finally:
            await feed.stop()
