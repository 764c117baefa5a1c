"""Start-up: load the key cache, keep it fresh from the change feed (`keys.` and `users.`),
and flush recorded key and token uses through the group committer."""

from __future__ import annotations

from spectra.db.hub import Hub

from .cache import KeyCache, clear_current, set_current
from .uses import UseRecorder


def install(hub: Hub) -> None:
    recorder = UseRecorder(hub.committer)
    cache = KeyCache(hash_key=hub.keys.hash_key, db=hub.db, recorder=recorder)
    set_current(cache, recorder)
    hub.feed.subscribe("keys.", cache.apply)
    hub.feed.subscribe("users.", cache.apply)

    async def start() -> None:
        await cache.load()
        await recorder.start()

    async def stop() -> None:
        await recorder.stop()
        clear_current(cache)

    hub.on_start.append(start)
    hub.on_stop.append(stop)
