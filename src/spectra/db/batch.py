"""The group committer: many small writes, one transaction per batch.

`submit(work)` queues a coroutine function that takes a session; a single worker gathers up
to `max_batch` items or waits at most `max_delay` seconds, runs them in one transaction and
resolves each caller's future when the commit is durable. If the batch fails, each item is
retried alone, so one bad item cannot sink the others. `stop()` flushes what is queued.

Inside an item's work, `await defer(session, fn, value)` hands `value` to `fn(session, values)`,
which runs ONCE per batch, with every value deferred to it, just before the commit (same
transaction): many small INSERTs become one executemany. Outside a batch it runs at once.
Deferred functions run in the order each was first deferred in the batch; a write that another
references (ledger transactions before the usage records naming them) goes in the SAME function,
in order, so the order never depends on which item of the batch came first.

`max_queue` bounds the backlog for callers that ask (`has_room`, `wait_for_room`): the gateway
waits, then refuses, rather than let finished-but-uncommitted work (the crash window) grow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.session import Database, Session, session_scope

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[Session], Awaitable[Any]]
BatchFn = Callable[[Session, list[Any]], Awaitable[Any]]

_DEFERRED = "spectra.batch.deferred"


async def defer(session: Session, fn: BatchFn, value: Any) -> None:
    """Queue `value` for `fn(session, values)` at the end of this group-commit batch (same
    transaction, insertion order); run `fn(session, [value])` now when not inside a batch."""
    deferred: dict[BatchFn, list[Any]] | None = session.info.get(_DEFERRED)
    if deferred is None:
        await fn(session, [value])
        return
    deferred.setdefault(fn, []).append(value)


async def _run_deferred(session: Session) -> None:
    deferred: dict[BatchFn, list[Any]] = session.info[_DEFERRED]
    while deferred:
        fn = next(iter(deferred))
        await fn(session, deferred.pop(fn))


@dataclass(slots=True)
class _Item:
    work: Work
    future: asyncio.Future[Any]
    queued_at: float = field(default_factory=time.monotonic)


class CommitterStoppedError(RuntimeError):
    pass


class GroupCommitter:
    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 500,
        max_delay: float = 0.02,
        max_queue: int | None = None,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.max_queue = max_queue
        """Backlog bound: `has_room` is False at this many queued items (None = unbounded).
        The committer never refuses work itself; callers that can wait or refuse ask first."""
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._queued_at: deque[float] = deque()
        self._room = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.batches = 0
        self.committed = 0
        self.failed = 0
        self._last_lag = 0.0

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def last_lag(self) -> float:
        """Seconds the oldest not-yet-committed item has waited, or the oldest item of the last
        committed batch waited if the queue is empty: a stuck backlog keeps growing it."""
        if self._queued_at:
            return max(self._last_lag, time.monotonic() - self._queued_at[0])
        return self._last_lag

    @property
    def has_room(self) -> bool:
        return self.max_queue is None or self._queue.qsize() < self.max_queue

    async def wait_for_room(self, seconds: float) -> bool:
        """Wait up to `seconds` for the backlog to fall below `max_queue`; True if it did."""
        deadline = time.monotonic() + seconds
        while True:
            if self.has_room:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._task is None:
                return False
            self._room.clear()
            try:
                await asyncio.wait_for(self._room.wait(), remaining)
            except TimeoutError:
                return self.has_room

    def _put(self, item: _Item) -> None:
        self._queued_at.append(item.queued_at)
        self._queue.put_nowait(item)

    def _taken(self, item: _Item) -> _Item:
        self._queued_at.popleft()
        return item

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="group-committer")

    def submit_nowait(self, work: Work) -> asyncio.Future[Any]:
        """Queue `work`; the returned future resolves with its result after commit."""
        if self._stopping or self._task is None:
            raise CommitterStoppedError("The group committer is not running.")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._put(_Item(work, future))
        return future

    async def submit(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Queue `work` and wait until it is committed; returns its result."""
        result: T = await self.submit_nowait(work)
        return result

    async def flush(self) -> None:
        """Wait until everything queued so far is committed (or failed)."""
        marker = self.submit_nowait(_noop)
        await asyncio.shield(marker)

    async def stop(self) -> None:
        """Stop accepting work, commit what is queued, then end the worker."""
        if self._task is None:
            return
        self._stopping = True
        self._put(_Item(_stop_marker, asyncio.get_running_loop().create_future()))
        await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            first = self._taken(await self._queue.get())
            batch = [first]
            deadline = time.monotonic() + self.max_delay
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._taken(self._queue.get_nowait()))
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    break
                try:
                    batch.append(self._taken(await asyncio.wait_for(self._queue.get(), remaining)))
                except TimeoutError:
                    break
            stop = any(item.work is _stop_marker for item in batch)
            items = [item for item in batch if item.work is not _stop_marker]
            if items:
                await self._commit(items)
            if self.has_room:
                self._room.set()
            for item in batch:
                if item.work is _stop_marker and not item.future.done():
                    item.future.set_result(None)
            if stop and self._queue.empty():
                return

    async def _commit(self, items: list[_Item]) -> None:
        self._last_lag = time.monotonic() - items[0].queued_at
        try:
            results = []
            async with session_scope(self.db) as session:
                session.info[_DEFERRED] = {}
                for item in items:
                    results.append(await item.work(session))
                await _run_deferred(session)
                del session.info[_DEFERRED]
        except Exception as exc:
            if len(items) == 1:
                self.failed += 1
                log.exception("group commit item failed")
                if not items[0].future.done():
                    items[0].future.set_exception(exc)
                return
            for item in items:
                await self._commit([item])
            return
        self.batches += 1
        self.committed += len(items)
        for item, result in zip(items, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)


async def _noop(_session: AsyncSession) -> None:
    return None


async def _stop_marker(_session: AsyncSession) -> None:
    return None
