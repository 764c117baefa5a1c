"""Start-up wiring of users: with Redis, the sign-in throttle counts in Redis while the process
runs, so every serving process shares one count per email and IP."""

from __future__ import annotations

from spectra.db.hub import Hub

from . import throttle


def install(hub: Hub) -> None:
    if hub.redis is None:
        return
    shared = throttle.RedisSignInThrottle(hub.redis)

    async def start() -> None:
        throttle.use(shared)

    async def stop() -> None:
        throttle.use(None)

    hub.on_start.append(start)
    hub.on_stop.append(stop)
