"""What `RedisBalanceView` does while Redis does not answer (holds_redis.py's module docstring
states the rule): refuse new holds (fail closed), settle from the hold's own parts, and queue
what Redis missed to replay it in order as soon as Redis answers again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from spectra.db.redis import REDIS_DOWN
from spectra.ledger import hold_rules as rules
from spectra.ledger.balance_view import Hold
from spectra.ledger.errors import HoldStoreUnavailableError

log = logging.getLogger(__name__)

REPAIR_EVERY_SECONDS = 0.5


class Repairs:
    """Operations (`op`, item) an outage left to replay against Redis, applied in order by
    `apply`; replay stops, keeping the rest, at the first failure and is retried."""

    def __init__(self, apply: Callable[[str, Any], Awaitable[None]]) -> None:
        self._apply = apply
        self._queue: deque[tuple[str, Any]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, op: str, item: Any) -> None:
        self._queue.append((op, item))
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="ledger-hold-repair")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(*REDIS_DOWN):
            await self.replay()

    async def replay(self) -> None:
        """Apply queued operations in order; stops (keeping the rest) at the first failure."""
        while self._queue:
            op, item = self._queue[0]
            await self._apply(op, item)
            self._queue.popleft()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            try:
                await self.replay()
            except REDIS_DOWN:
                await asyncio.sleep(REPAIR_EVERY_SECONDS)
                continue
            except Exception:
                log.exception("replaying hold operations failed")
                await asyncio.sleep(REPAIR_EVERY_SECONDS)
                continue
            if not self._queue:
                self._wake.clear()


def degraded_charges(hold: Hold, actual_cost: int) -> dict[uuid.UUID, int]:
    """Charges without Redis: each part up to what it held, the excess to the last source the
    hold used (the first of the plan if none) — the overspend bound's own worst case."""
    charges, remaining = rules.charge_held(hold.parts, actual_cost)
    rules.charge_rest_to_last(hold, charges, remaining)
    return charges


def unavailable() -> HoldStoreUnavailableError:
    return HoldStoreUnavailableError(
        "The shared hold store (Redis) is not answering, so no request can reserve money right "
        "now; retry in a few seconds.",
        retry_after=2,
    )
