"""How a command runs: locally on the data directory (actor `local:<os user>`) or, with
`--server URL`, against the REST API with the token in SPECTRA_TOKEN.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from spectra.audit.actor import Actor, local_actor
from spectra.cli.output import fail, fail_error
from spectra.db.session import Session, session_scope
from spectra.errors import ErrorKind, SpectraError
from spectra.runtime import Runtime, build_runtime, close_runtime

T = TypeVar("T")


@dataclass
class CliContext:
    server: str | None = None
    token: str | None = None

    @property
    def remote(self) -> bool:
        return self.server is not None


_ctx = CliContext()


def configure(server: str | None, token: str | None) -> None:
    _ctx.server = server.rstrip("/") if server else None
    _ctx.token = token


def current() -> CliContext:
    return _ctx


def run_local(fn: Callable[[Session, Actor], Awaitable[T]]) -> T:
    """Run `fn` in one unit of work on the local database, as the local actor."""

    async def go() -> T:
        runtime = await build_runtime()
        try:
            async with session_scope(runtime.db) as session:
                return await fn(session, local_actor())
        finally:
            await close_runtime(runtime)

    return _guard(go)


def run_with_runtime(fn: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run `fn` with a local runtime (no serving, no jobs) for commands that need more than a session."""

    async def go() -> T:
        runtime = await build_runtime()
        try:
            return await fn(runtime)
        finally:
            await close_runtime(runtime)

    return _guard(go)


def _guard(go: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(go())  # type: ignore[arg-type]
    except SpectraError as exc:
        fail_error(exc)


def api(method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
    """Call the REST API of `--server` as the token's user; a refusal becomes the CLI's error."""
    ctx = current()
    assert ctx.server is not None
    token = ctx.token or os.environ.get("SPECTRA_TOKEN")
    if not token:
        fail(
            "--server needs an API token in SPECTRA_TOKEN (create one with `spectra tokens create`).",
            5,
        )
    clean = {k: v for k, v in (params or {}).items() if v is not None}
    try:
        response = httpx.request(
            method,
            f"{ctx.server}{path}",
            json=json,
            params=clean,
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        fail(f"Cannot reach {ctx.server}: {exc}.", 9)
    if response.status_code >= 400:
        try:
            err = response.json()["error"]
            message, code = err["message"], err["code"]
        except (ValueError, KeyError, TypeError):
            fail(f"{ctx.server} answered {response.status_code}.", 1)
        kind = {
            401: ErrorKind.UNAUTHENTICATED,
            403: ErrorKind.FORBIDDEN,
            404: ErrorKind.NOT_FOUND,
            409: ErrorKind.CONFLICT,
            422: ErrorKind.INVALID,
            402: ErrorKind.REFUSED,
            429: ErrorKind.RATE_LIMITED,
            503: ErrorKind.UNAVAILABLE,
        }.get(response.status_code, ErrorKind.UPSTREAM)
        err_cls = type("RemoteError", (SpectraError,), {"code": code, "kind": kind})
        fail_error(err_cls(message))
    if response.status_code == 204 or not response.content:
        return None
    return response.json()
