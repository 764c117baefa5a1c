"""Key and token uses: last-used times collected in memory and flushed through the group
committer every few seconds (and at shutdown); a key's first use, which starts an "expires N
days after first use" clock, submitted at once (a conditional UPDATE: the first process wins)
and announced on the change feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.batch import CommitterStoppedError, GroupCommitter
from spectra.db.changes import record_change

from . import repository

log = logging.getLogger(__name__)

FIRST_USE_CHANGE = "keys.first_use"
FLUSH_INTERVAL_SECONDS = 5.0


class UseRecorder:
    """Collects key and token uses in memory; flushes them through the group committer."""

    def __init__(
        self, committer: GroupCommitter | None, *, interval: float = FLUSH_INTERVAL_SECONDS
    ) -> None:
        self.committer = committer
        self.interval = interval
        self._keys: dict[uuid.UUID, datetime] = {}
        self._tokens: dict[uuid.UUID, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def touch_key(self, key_id: uuid.UUID, at: datetime) -> None:
        self._keys[key_id] = at

    def touch_token(self, token_id: uuid.UUID, at: datetime) -> None:
        self._tokens[token_id] = at

    def first_use(
        self, key_id: uuid.UUID, at: datetime, expires: datetime
    ) -> asyncio.Future[Any] | None:
        """Queue the durable write of a key's first use; None when no committer is running."""
        if self.committer is None:
            return None

        async def work(session: AsyncSession) -> bool:
            done = await repository.record_first_use(session, key_id, at, expires)
            if done:
                await record_change(session, FIRST_USE_CHANGE, key_id)
            return done

        try:
            future = self.committer.submit_nowait(work)
        except CommitterStoppedError:
            log.warning("first use of key %s not persisted: the group committer is stopped", key_id)
            return None
        future.add_done_callback(_log_first_use_failure)
        return future

    async def flush(self) -> None:
        """Write the collected last-used times (one committer item)."""
        keys, tokens = self._keys, self._tokens
        if (not keys and not tokens) or self.committer is None:
            return
        self._keys, self._tokens = {}, {}

        async def work(session: AsyncSession) -> None:
            await repository.touch_keys(session, keys)
            await repository.touch_tokens(session, tokens)

        try:
            await self.committer.submit(work)
        except Exception:
            log.exception(
                "could not record last-used times of %d keys and tokens", len(keys) + len(tokens)
            )

    @property
    def running(self) -> bool:
        """Whether its flush loop runs: a runtime built but never started (a one-shot command)
        installs a recorder nobody would ever flush."""
        return self._task is not None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="keys-last-used")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()


def _log_first_use_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a key's first use was not persisted; its next use retries")
