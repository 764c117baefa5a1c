"""One process's running parts: database, secret, change feed, group committer, jobs, caches.

Surfaces (the app, the CLI) build a Runtime; domains never import it: `spectra.wiring` hands
each domain the pieces it needs (a cache subscribes to the feed, a job registers itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from spectra.audit import anchors as audit_anchors
from spectra.config import Settings, get_settings
from spectra.db import migrate
from spectra.db.batch import GroupCommitter
from spectra.db.changes import ChangeFeed
from spectra.db.leases import (
    SERVE_INFO_PREFIX,
    SERVE_LEASE,
    JobScheduler,
    live_holders,
    live_infos,
    process_holder,
    release,
    try_acquire,
)
from spectra.db.redis import SharedRedis, open_redis
from spectra.db.serverkey import ServerKeys, bind_secret, has_identity, load_secret, set_server_keys
from spectra.db.session import Database, open_database, set_database
from spectra.errors import ConfigError
from spectra.kit.files import private_dir

log = logging.getLogger(__name__)

SHUTDOWN_STEP_SECONDS = 30.0
"""How long one shutdown step may take beyond the gateway's grace period before the process
moves on without it: a delivery or webhook stuck on a peer must not keep a stopping process (or
a test's teardown) alive. The group committer's last flush is never cut short; what the gateway
had not settled by then is in its settlement journal, replayed on the next start."""


async def _bounded(step: str, work: Awaitable[None], seconds: float) -> None:
    try:
        await asyncio.wait_for(work, seconds)
    except TimeoutError:
        log.error("shutdown step %s did not finish in %.0f s; moving on", step, seconds)
    except Exception:
        log.exception("shutdown step %s failed", step)


Hook = Callable[[], Awaitable[None]]


class AnotherProcessServingError(ConfigError):
    code = "another_process_serving"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keys: ServerKeys
    feed: ChangeFeed
    committer: GroupCommitter
    jobs: JobScheduler
    redis: SharedRedis | None = None
    holder: str = field(default_factory=process_holder)
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    serving: bool = False
    started: bool = False

    async def start(self, *, serve: bool = False, run_jobs: bool = True) -> None:
        """Start background parts; with `serve`, take the serve lease first (without Redis, one
        process per database; with Redis, each process holds its own `serve:<holder>` row)."""
        if serve:
            await self.take_serve_lease()
        await self.feed.start()
        await self.committer.start()
        for hook in self.on_start:
            await hook()
        if run_jobs:
            if serve:
                self.jobs.register(
                    "serve-lease",
                    max(self.settings.lease_ttl_seconds / 3, 1.0),
                    self._renew_serve_lease,
                )
            await self.jobs.start()
        self.started = True

    async def stop(self) -> None:
        within = self.settings.gateway_shutdown_grace + SHUTDOWN_STEP_SECONDS
        await _bounded("jobs", self.jobs.stop(), within)
        for hook in reversed(self.on_stop):
            await _bounded(getattr(hook, "__module__", repr(hook)), hook(), within)
        await self.committer.stop()
        await self.feed.stop()
        await self.release_serve_lease()
        self.started = False

    @property
    def _serve_info(self) -> str:
        # Where this process serves: the local `spectra` command builds links (set-up links,
        # snippets) on the running server's address, not on its own default port.
        return f"{SERVE_INFO_PREFIX}{self.settings.public_base()}"

    @property
    def _serve_lease_name(self) -> str:
        # With shared state in Redis any number of processes may serve; each keeps its own row
        # (so `leases` lists who serves). Without it, one row: one process per database.
        return f"{SERVE_LEASE}:{self.holder}" if self.redis is not None else SERVE_LEASE

    async def take_serve_lease(self) -> None:
        """Become a serving process, or raise `AnotherProcessServingError` (one sentence)."""
        # A process with Redis and one without must never serve the same database together.
        if self.redis is not None:
            mixed = await live_holders(self.db, SERVE_LEASE, exclude=self.holder)
        else:
            mixed = await live_holders(self.db, f"{SERVE_LEASE}:", prefix=True, exclude=self.holder)
        if mixed:
            raise AnotherProcessServingError(
                serving_refusal(mixed[0], shared=self.redis is not None)
            )
        other = await try_acquire(
            self.db,
            self._serve_lease_name,
            self.holder,
            self.settings.lease_ttl_seconds,
            info=self._serve_info,
        )
        if other is not None:
            raise AnotherProcessServingError(serving_refusal(other.holder))
        self.serving = True

    async def release_serve_lease(self) -> None:
        if self.serving:
            await release(self.db, self._serve_lease_name, self.holder)
            self.serving = False

    async def _renew_serve_lease(self) -> None:
        other = await try_acquire(
            self.db,
            self._serve_lease_name,
            self.holder,
            self.settings.lease_ttl_seconds,
            info=self._serve_info,
        )
        if other is not None:
            log.error("lost the serve lease to %s", other.holder)


async def serving_public_url(runtime: Runtime) -> str | None:
    """The public URL of a process serving this database (from its serve lease), if any."""
    for info in await live_infos(runtime.db, SERVE_LEASE, prefix=True):
        if info.startswith(SERVE_INFO_PREFIX):
            return info.removeprefix(SERVE_INFO_PREFIX)
    return None


def serving_refusal(holder: str, *, shared: bool = False) -> str:
    """The one sentence a second process stops with (without Redis, or mixing with and without)."""
    if shared:
        return (
            f"Spectra process {holder} serves this database without SPECTRA_REDIS_URL; stop it or "
            "give it the same Redis before starting processes that share state in Redis."
        )
    return (
        f"Another Spectra process ({holder}) is already serving this database; without "
        "SPECTRA_REDIS_URL a second one would weaken the overspend bound, so this one stops "
        "(set SPECTRA_REDIS_URL to run several)."
    )


async def build_runtime(
    settings: Settings | None = None,
    *,
    migrate_schema: bool | None = None,
    create_secret: bool = True,
) -> Runtime:
    """Open the database (migrating it when configured), load and check the secret."""
    settings = settings or get_settings()
    url = settings.resolved_database_url
    if settings.is_sqlite:
        private_dir(settings.data_dir)
    should_migrate = settings.auto_migrate if migrate_schema is None else migrate_schema
    # An up-to-date schema skips alembic's upgrade, which would import every domain's models to
    # do nothing (most of a local CLI command's start-up).
    state = await migrate.check_schema(url)
    if should_migrate:
        if state != "ok":
            await migrate.upgrade(url)
    else:
        if state != "ok":
            raise ConfigError(
                "The database schema is not up to date; run `spectra migrate` first "
                "(or leave SPECTRA_AUTO_MIGRATE on)."
            )
    db = open_database(url)
    # A new secret is generated only for a new database: for an existing one, a missing secret
    # file must stop start-up (a new key would make stored credentials unreadable).
    secret = load_secret(settings, create=create_secret and not await has_identity(db))
    keys = await bind_secret(db, secret)
    set_server_keys(keys)
    runtime = Runtime(
        settings=settings,
        db=db,
        keys=keys,
        feed=ChangeFeed(db, interval=settings.change_poll_interval),
        committer=GroupCommitter(
            db,
            max_batch=settings.commit_max_batch,
            max_delay=settings.commit_max_delay,
            max_queue=settings.commit_max_queue,
        ),
        jobs=JobScheduler(db),
        redis=open_redis(settings.redis_url, settings.redis_prefix) if settings.redis_url else None,
    )
    from spectra import wiring

    wiring.install(runtime)
    return runtime


async def close_runtime(runtime: Runtime) -> None:
    if runtime.started:
        await runtime.stop()
    await runtime.db.dispose()
    if runtime.redis is not None:
        await runtime.redis.close()
    set_database(None)
    set_server_keys(None)
    audit_anchors.use(None)
