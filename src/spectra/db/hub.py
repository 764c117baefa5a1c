"""What a domain may use of the running process: the structural type of `spectra.runtime.Runtime`.

Domains type their `wiring.install(hub)` against this protocol, so they never import the runtime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from spectra.config import Settings
from spectra.db.batch import GroupCommitter
from spectra.db.changes import ChangeFeed
from spectra.db.leases import JobScheduler
from spectra.db.redis import SharedRedis
from spectra.db.serverkey import ServerKeys
from spectra.db.session import Database


class Hub(Protocol):
    settings: Settings
    db: Database
    keys: ServerKeys
    feed: ChangeFeed
    committer: GroupCommitter
    jobs: JobScheduler
    redis: SharedRedis | None
    """Shared hot-path state when `SPECTRA_REDIS_URL` is set; None in the embedded default."""
    serving: bool
    """Whether this process serves (holds the serve lease), as opposed to a command's runtime."""
    on_start: list[Callable[[], Awaitable[None]]]
    on_stop: list[Callable[[], Awaitable[None]]]
