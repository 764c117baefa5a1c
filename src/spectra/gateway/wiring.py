"""The gateway's running parts in one object: the caches it reads (keys, policy, prices,
settings), the balance view, the pool scheduler, the upstream client, the rate limiter and the
settler. Installed at start-up; stopped gracefully (stop accepting, let open streams finish up
to the grace period, flush settlements) before the group committer stops.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from spectra.alerts import episodes as alert_episodes
from spectra.config import Settings
from spectra.db.batch import GroupCommitter
from spectra.db.hub import Hub
from spectra.db.redis import SharedRedis
from spectra.db.session import Database, session_scope
from spectra.keys.cache import KeyCache
from spectra.keys.cache import current_cache as current_keys
from spectra.kit.clock import utc_now
from spectra.ledger.holds import BalanceView
from spectra.ledger.wiring import balance_view
from spectra.policy.snapshot import PolicyCache
from spectra.policy.snapshot import current_cache as current_policy
from spectra.pool.fallbacks import CHANGE as FALLBACKS_CHANGE
from spectra.pool.fallbacks import FallbackChains
from spectra.pool.scheduler import Scheduler
from spectra.pool.wiring import scheduler as pool_scheduler
from spectra.providers.client import Timeouts, UpstreamClient
from spectra.usage.table import PriceTable, price_table
from spectra.workspace.cache import settings_cache
from spectra.workspace.schemas import WorkspaceSettings

from .access_log import AccessLog
from .journal import SettlementJournal
from .limits import Limit, Limiter, RateLimiter
from .limits_redis import RedisRateLimiter
from .recovery import replay_orphans
from .settlement import Settler
from .tracing import Tracing

log = logging.getLogger(__name__)

COUNTERS_JOB = "gateway.counters"
COUNTERS_SECONDS = 10.0
"""Each process writes its counters (`alerts.episodes.report_counters`) at most this often."""


class Gateway:
    def __init__(
        self, settings: Settings, committer: GroupCommitter, redis: SharedRedis | None = None
    ) -> None:
        self.settings = settings
        self.committer = committer
        self.client = UpstreamClient()
        self.limiter: Limiter = RedisRateLimiter(redis) if redis is not None else RateLimiter()
        self.accepting = True
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._settler: Settler | None = None
        self.journal: SettlementJournal | None = (
            SettlementJournal(
                settings.data_dir / "journal", fsync_interval=settings.journal_fsync_interval
            )
            if settings.settlement_journal
            else None
        )
        """Settlements are appended here before the answer's last byte (`journal.py`)."""
        self.fallbacks = FallbackChains()
        """Model fallback chains, in memory (loaded at start, refreshed by the change feed)."""
        self._reported: dict[str, int] = {}
        self.access = AccessLog.open(settings.access_log)
        """One line per request (`access_log.py`); None when `SPECTRA_ACCESS_LOG=off`."""
        self.tracing = Tracing.start() if settings.otel else None
        """OpenTelemetry spans of each request (`tracing.py`); None unless `SPECTRA_OTEL`."""
        if self.access is not None:
            self.access.prefix_of = self._key_prefix
            self.access.currency = lambda: self.workspace.currency

    def _key_prefix(self, key_id: uuid.UUID) -> str | None:
        entry = self.keys.get(key_id)
        return entry.prefix if entry is not None else None

    @property
    def keys(self) -> KeyCache:
        return current_keys()

    @property
    def policy(self) -> PolicyCache:
        return current_policy()

    @property
    def view(self) -> BalanceView:
        return balance_view()

    @property
    def scheduler(self) -> Scheduler:
        return pool_scheduler()

    @property
    def prices(self) -> PriceTable:
        return price_table

    @property
    def workspace(self) -> WorkspaceSettings:
        return settings_cache.current

    @property
    def settler(self) -> Settler:
        if self._settler is None:
            self._settler = Settler(
                self.committer,
                self.view,
                self.policy.spend,
                journal=self.journal,
                access=self.access,
                tracing=self.tracing,
            )
        return self._settler

    @property
    def timeouts(self) -> Timeouts:
        s = self.settings
        return Timeouts(
            connect=s.gateway_connect_timeout,
            first_byte=s.gateway_first_byte_timeout,
            idle=s.gateway_idle_timeout,
        )

    def key_limits(self, key_id: str) -> Limit:
        s = self.settings
        return Limit(
            "key",
            key_id,
            "This key",
            s.gateway_key_rpm,
            s.gateway_key_tpm,
            s.gateway_key_concurrency,
        )

    def user_limits(self, user_id: str) -> Limit:
        s = self.settings
        return Limit(
            "user",
            user_id,
            "You",
            s.gateway_user_rpm,
            s.gateway_user_tpm,
            s.gateway_user_concurrency,
        )

    async def report_counters(self, db: Database, process: str) -> int:
        """Write this process's counts of what it does not record per request (the
        `settlement_backlog` refusals) for the detection sweep in any process: one write when a
        count changed since the last report, none otherwise. Returns the rows written."""
        dropped = self._settler.dropped if self._settler is not None else 0
        values = {alert_episodes.BACKLOG_COUNTER: dropped}
        if values == self._reported:
            return 0
        async with session_scope(db) as session:
            written = await alert_episodes.report_counters(session, process, values, utc_now())
        self._reported = values
        return written

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight <= 0:
            self.in_flight = 0
            self._idle.set()

    async def drain(self, grace: float) -> bool:
        """Stop accepting; wait up to `grace` seconds for open requests. True when all finished."""
        self.accepting = False
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace)
        except TimeoutError:
            log.warning("%d gateway requests still open after the grace period", self.in_flight)
            return False
        return True

    async def stop(self) -> None:
        await self.drain(self.settings.gateway_shutdown_grace)
        if self._settler is not None:
            await self._settler.flush()
        if self.journal is not None:
            await self.journal.close()
        if isinstance(self.limiter, RedisRateLimiter):
            await self.limiter.flush()
        await self.client.close()
        if self.access is not None:
            self.access.close()
        if self.tracing is not None:
            self.tracing.shutdown()


_current: Gateway | None = None


def current() -> Gateway | None:
    return _current


def install(hub: Hub) -> None:
    global _current
    gateway = Gateway(hub.settings, hub.committer, hub.redis)
    gateway.fallbacks.db = hub.db
    _current = gateway
    hub.feed.subscribe(FALLBACKS_CHANGE, gateway.fallbacks.on_changes)

    async def start() -> None:
        if gateway.journal is not None:
            # What a killed process settled but did not commit is written before serving.
            await replay_orphans(hub.db, gateway.journal.directory)
            gateway.journal.open()
        await gateway.fallbacks.load()
        gateway.accepting = True

    async def report_counters() -> None:
        await gateway.report_counters(hub.db, hub.jobs.holder)

    async def stop() -> None:
        global _current
        await gateway.stop()
        try:
            await report_counters()
        except Exception:
            log.exception("the gateway's last counter report failed")
        if _current is gateway:
            _current = None

    hub.on_start.append(start)
    hub.on_stop.append(stop)
    # A lease of its own per process: every process reports its own counters.
    hub.jobs.register(f"{COUNTERS_JOB}:{uuid.uuid4().hex[:16]}", COUNTERS_SECONDS, report_counters)
