"""Process-level commands (`secret rotate-credentials`; `serve`, `migrate`, `backup`, `restore`
and `demo` hold the runtime themselves) run on the local data directory directly, as the actor
`local:<os user>`. Every other command is a client of the REST API (`spectra.cli.transport`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from spectra.cli.output import fail_error
from spectra.errors import SpectraError

if TYPE_CHECKING:
    from spectra.audit.actor import Actor
    from spectra.db.session import Session

T = TypeVar("T")


def run_local(fn: Callable[[Session, Actor], Awaitable[T]]) -> T:
    """Run `fn` in one unit of work on the local database, as the local actor."""
    import asyncio

    from spectra.audit.actor import local_actor
    from spectra.db.session import session_scope
    from spectra.runtime import build_runtime, close_runtime

    async def go() -> T:
        runtime = await build_runtime()
        try:
            async with session_scope(runtime.db) as session:
                return await fn(session, local_actor())
        finally:
            await close_runtime(runtime)

    from spectra.cli.workspace import announce

    announce()
    try:
        return asyncio.run(go())
    except SpectraError as exc:
        fail_error(exc)
