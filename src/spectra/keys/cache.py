"""The gateway's hot path: every key in memory, by keyed hash, refreshed through the change feed.

`KeyCache.lookup(secret, client_ip)` computes one HMAC and does one dict lookup; no database
round trip. Uses are not written per request: `UseRecorder` (`uses.py`) keeps last-used times in memory
and flushes them through the group committer every few seconds (and at shutdown), so the
`last_used_at` columns lag by at most that interval (a crash loses at most that much). A key's
first use, which starts an "expires N days after first use" clock, is submitted to the
committer at once (a conditional UPDATE: the first process wins) and announced on the change
feed, so it survives restarts and every process agrees on the expiry.

A key the cache does not know yet (created a moment ago, before the change feed brought it, or
on another process) is looked up once in the database by `lookup_fresh` before the request is
refused; a digest found nowhere is remembered for `MISS_TTL_SECONDS`, so a client retrying a
wrong key, or someone guessing, costs one dict lookup per request and not a query; and at most
`MISS_LOOKUPS_PER_SECOND` such reads happen per second, so a flood of distinct made-up keys
cannot turn into a query each.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.changes import Change
from spectra.db.session import Database, read_scope
from spectra.kit.clock import utc_now

from . import repository
from .errors import InvalidApiKeyError
from .rules import Network, check_usable, parse_networks, scope_allows
from .secrets import hash_secret, is_member_key, matches
from .uses import UseRecorder

log = logging.getLogger(__name__)

MISS_TTL_SECONDS = 10.0
"""How long a digest that is in neither the cache nor the database is answered from memory."""
MAX_MISSES = 10_000
MISS_LOOKUPS_PER_SECOND = 50
"""At most this many database reads per second for keys the cache does not know: a flood of
distinct made-up keys is refused from memory beyond it, not turned into a query each."""


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """What the gateway knows about a key without asking the database."""

    key_id: uuid.UUID
    user_id: uuid.UUID
    user_email: str
    user_status: str
    user_role: str
    group_id: uuid.UUID
    name: str
    prefix: str
    scopes: tuple[str, ...]
    """Model glob patterns; empty = any model."""
    ip_networks: tuple[Network, ...]
    """Pre-parsed allowlist; empty = anywhere."""
    status: str
    """Stored status: `active` or `revoked`."""
    expires_at: datetime | None
    expires_after_first_use_days: int | None
    first_used_at: datetime | None
    use_expires_at: datetime | None
    grace_until: datetime | None
    hash: str

    @property
    def effective_expires_at(self) -> datetime | None:
        present = [v for v in (self.expires_at, self.use_expires_at) if v is not None]
        return min(present) if present else None

    def allows_model(self, model: str) -> bool:
        return scope_allows(self.scopes, model)

    def check(self, client_ip: str | None, now: datetime) -> None:
        """Raise the typed refusal if this key may not be used now from `client_ip`."""
        check_usable(
            status=self.status,
            grace_until=self.grace_until,
            expires_at=self.effective_expires_at,
            user_status=self.user_status,
            networks=self.ip_networks,
            client_ip=client_ip,
            now=now,
        )


def _entry(row: Any) -> KeyEntry:
    (
        key_id,
        digest,
        name,
        prefix,
        user_id,
        scopes,
        allowlist,
        status,
        expires_at,
        first_use_days,
        first_used_at,
        use_expires_at,
        grace_until,
        email,
        user_status,
        role,
        group_id,
    ) = row
    return KeyEntry(
        key_id=key_id,
        user_id=user_id,
        user_email=email,
        user_status=user_status,
        user_role=role,
        group_id=group_id,
        name=name,
        prefix=prefix,
        scopes=tuple(scopes or ()),
        ip_networks=parse_networks(allowlist or []),
        status=status,
        expires_at=expires_at,
        expires_after_first_use_days=first_use_days,
        first_used_at=first_used_at,
        use_expires_at=use_expires_at,
        grace_until=grace_until,
        hash=digest,
    )


class KeyCache:
    """hash -> KeyEntry for every member key; see the module docstring."""

    def __init__(
        self, *, hash_key: bytes, db: Database | None = None, recorder: UseRecorder | None = None
    ) -> None:
        self._hash_key = hash_key
        self.db = db
        self.recorder = recorder
        self._by_hash: dict[str, KeyEntry] = {}
        self._by_id: dict[uuid.UUID, KeyEntry] = {}
        self._by_user: dict[uuid.UUID, set[uuid.UUID]] = {}
        self._pending_first_use: dict[uuid.UUID, tuple[datetime, datetime]] = {}
        self._misses: dict[str, float] = {}
        self._lookup_window = (0, 0)
        """(second, database reads made in it) for MISS_LOOKUPS_PER_SECOND."""
        """digest -> monotonic time until which it is known to be in no row."""
        self._lock = asyncio.Lock()
        self.loaded = False

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, key_id: uuid.UUID) -> KeyEntry | None:
        return self._by_id.get(key_id)

    def lookup(self, secret: str, client_ip: str | None) -> KeyEntry:
        """The key for `secret`, checked for use now from `client_ip`; raises the typed refusal.

        invalid_api_key, key_revoked, key_expired, user_suspended, ip_not_allowed. Records the use.
        """
        if not is_member_key(secret):
            raise InvalidApiKeyError(
                "This is not a Spectra API key; keys start with 'sk-spectra-'."
            )
        digest = hash_secret(secret, self._hash_key)
        entry = self._by_hash.get(digest)
        if entry is None or not matches(digest, entry.hash):
            raise InvalidApiKeyError(
                "This API key is not known; check it, or create a new one in the portal."
            )
        now = utc_now()
        entry.check(client_ip, now)
        if entry.expires_after_first_use_days is not None and entry.first_used_at is None:
            entry = self._start_first_use(entry, now)
        if self.recorder is not None:
            self.recorder.touch_key(entry.key_id, now)
        return entry

    async def lookup_fresh(self, secret: str, client_ip: str | None) -> KeyEntry:
        """`lookup`, but a key the cache does not hold yet is read from the database once before
        the request is refused (see the module docstring)."""
        try:
            return self.lookup(secret, client_ip)
        except InvalidApiKeyError:
            if self.db is None or not is_member_key(secret):
                raise
            digest = hash_secret(secret, self._hash_key)
            now = time.monotonic()
            if self._misses.get(digest, 0.0) > now:
                raise
            second, used = self._lookup_window
            if int(now) != second:
                second, used = int(now), 0
            if used >= MISS_LOOKUPS_PER_SECOND:
                raise
            self._lookup_window = (second, used + 1)
            rows = await self._rows(None, hashes=[digest])
            if not rows:
                if len(self._misses) >= MAX_MISSES:
                    self._misses = {d: t for d, t in self._misses.items() if t > now}
                    if len(self._misses) >= MAX_MISSES:
                        self._misses.clear()
                self._misses[digest] = now + MISS_TTL_SECONDS
                raise
            async with self._lock:
                for row in rows:
                    self._put(self._with_pending(_entry(row)))
        return self.lookup(secret, client_ip)

    def _start_first_use(self, entry: KeyEntry, now: datetime) -> KeyEntry:
        assert entry.expires_after_first_use_days is not None
        expires = now + timedelta(days=entry.expires_after_first_use_days)
        updated = replace(entry, first_used_at=now, use_expires_at=expires)
        self._put(updated)
        self._pending_first_use[entry.key_id] = (now, expires)
        future = (
            self.recorder.first_use(entry.key_id, now, expires)
            if self.recorder is not None
            else None
        )
        if future is None:
            self._pending_first_use.pop(entry.key_id, None)
        else:
            key_id = entry.key_id
            future.add_done_callback(lambda done: self._first_use_done(key_id, done))
        return updated

    def _first_use_done(self, key_id: uuid.UUID, future: asyncio.Future[Any]) -> None:
        self._pending_first_use.pop(key_id, None)
        if not future.cancelled() and future.exception() is not None:
            current = self._by_id.get(key_id)
            if current is not None and current.first_used_at is not None:
                self._put(replace(current, first_used_at=None, use_expires_at=None))

    async def load(self, session: AsyncSession | None = None) -> int:
        """Load every key (one query); returns how many."""
        async with self._lock:
            rows = await self._rows(session)
            by_hash: dict[str, KeyEntry] = {}
            by_id: dict[uuid.UUID, KeyEntry] = {}
            by_user: dict[uuid.UUID, set[uuid.UUID]] = {}
            for row in rows:
                entry = self._with_pending(_entry(row))
                by_hash[entry.hash] = entry
                by_id[entry.key_id] = entry
                by_user.setdefault(entry.user_id, set()).add(entry.key_id)
            self._by_hash, self._by_id, self._by_user = by_hash, by_id, by_user
            self.loaded = True
            return len(by_hash)

    async def reload_keys(
        self, key_ids: Iterable[uuid.UUID], session: AsyncSession | None = None
    ) -> None:
        ids = set(key_ids)
        async with self._lock:
            rows = await self._rows(session, key_ids=ids)
            for key_id in ids:
                self._drop(key_id)
            for row in rows:
                self._put(self._with_pending(_entry(row)))

    async def reload_users(
        self, user_ids: Iterable[uuid.UUID], session: AsyncSession | None = None
    ) -> None:
        ids = set(user_ids)
        async with self._lock:
            rows = await self._rows(session, user_ids=ids)
            for user_id in ids:
                for key_id in list(self._by_user.get(user_id, ())):
                    self._drop(key_id)
            for row in rows:
                self._put(self._with_pending(_entry(row)))

    async def apply(self, changes: list[Change]) -> None:
        """Change-feed listener for `keys.` and `users.`: reload exactly what changed."""
        key_ids: set[uuid.UUID] = set()
        user_ids: set[uuid.UUID] = set()
        for change in changes:
            entity = _as_uuid(change.entity_id)
            if entity is None:
                await self.load()
                return
            (key_ids if change.kind.startswith("keys.") else user_ids).add(entity)
        if key_ids:
            await self.reload_keys(key_ids)
        if user_ids:
            await self.reload_users(user_ids)

    async def _rows(self, session: AsyncSession | None, **where: Any) -> list[Any]:
        if session is not None:
            return list(await repository.cache_rows(session, **where))
        if self.db is None:
            raise RuntimeError("KeyCache needs a database or a session to load keys.")
        async with read_scope(self.db) as own:
            return list(await repository.cache_rows(own, **where))

    def _with_pending(self, entry: KeyEntry) -> KeyEntry:
        pending = self._pending_first_use.get(entry.key_id)
        if pending is None or entry.first_used_at is not None:
            return entry
        return replace(entry, first_used_at=pending[0], use_expires_at=pending[1])

    def _put(self, entry: KeyEntry) -> None:
        self._misses.pop(entry.hash, None)
        old = self._by_id.get(entry.key_id)
        if old is not None and old.hash != entry.hash:
            self._by_hash.pop(old.hash, None)
        if old is not None and old.user_id != entry.user_id:
            self._by_user.get(old.user_id, set()).discard(entry.key_id)
        self._by_hash[entry.hash] = entry
        self._by_id[entry.key_id] = entry
        self._by_user.setdefault(entry.user_id, set()).add(entry.key_id)

    def _drop(self, key_id: uuid.UUID) -> None:
        old = self._by_id.pop(key_id, None)
        if old is None:
            return
        self._by_hash.pop(old.hash, None)
        owned = self._by_user.get(old.user_id)
        if owned is not None:
            owned.discard(key_id)
            if not owned:
                del self._by_user[old.user_id]


def _as_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


_cache: KeyCache | None = None
_recorder: UseRecorder | None = None


def current_cache() -> KeyCache:
    """This process's key cache (installed by `spectra.keys.wiring`)."""
    if _cache is None:
        raise RuntimeError("The key cache is not installed in this process.")
    return _cache


def current_recorder() -> UseRecorder | None:
    """The running recorder of this process's uses; None when none runs (then a use is written
    directly, not queued where nothing would flush it)."""
    return _recorder if _recorder is not None and _recorder.running else None


def set_current(cache: KeyCache | None, recorder: UseRecorder | None) -> None:
    global _cache, _recorder
    _cache, _recorder = cache, recorder


def clear_current(cache: KeyCache) -> None:
    """Forget `cache` (and its recorder) if it is still this process's current one."""
    if _cache is cache:
        set_current(None, None)
