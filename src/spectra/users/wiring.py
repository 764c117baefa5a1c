"""Start-up wiring of users: with Redis, the sign-in throttle counts in Redis while the process
runs, so every serving process shares one count per email and IP; the hourly purge of spent
single sign-on attempts."""

from __future__ import annotations

from spectra.db.hub import Hub

from . import throttle
from .sso import signin


def install(hub: Hub) -> None:
    async def purge() -> None:
        await signin.purge_spent_logins(hub.db)

    hub.jobs.register(signin.PURGE_JOB, signin.PURGE_SECONDS, purge)
    if hub.redis is None:
        return
    shared = throttle.RedisSignInThrottle(hub.redis)

    async def start() -> None:
        throttle.use(shared)

    async def stop() -> None:
        throttle.use(None)

    hub.on_start.append(start)
    hub.on_stop.append(stop)
