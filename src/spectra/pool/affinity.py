"""Session affinity shared by several processes: session key -> account, in Redis with a TTL,
so a conversation keeps its account (and the upstream's prompt cache) whichever process serves
the next turn. The scheduler keeps its in-process map as the working copy; the gateway reads the
shared binding before `select` (`recall`) and writes the choice after it (`remember`).

Affinity is a preference, never a correctness rule: when Redis does not answer, both calls
fall back to the in-process map silently.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from spectra.db.redis import REDIS_DOWN, SharedRedis

log = logging.getLogger(__name__)


class RedisAffinity:
    def __init__(self, shared: SharedRedis, ttl: timedelta) -> None:
        self.shared = shared
        self.ttl_ms = int(ttl.total_seconds() * 1000)

    def _key(self, session_key: str) -> str:
        return self.shared.key("aff", session_key)

    async def recall(self, session_key: str) -> uuid.UUID | None:
        """The account this session is bound to across processes (None: none, or Redis down)."""
        try:
            raw = await self.shared.client.get(self._key(session_key))
        except REDIS_DOWN:
            return None
        if not raw:
            return None
        try:
            return uuid.UUID(str(raw))
        except ValueError:
            return None

    async def remember(self, session_key: str, account_id: uuid.UUID) -> None:
        try:
            await self.shared.client.set(self._key(session_key), str(account_id), px=self.ttl_ms)
        except REDIS_DOWN:
            log.debug("Redis unavailable: session affinity kept in this process only")
