"""The CLI's one way in: one httpx client on the REST API.

With `--server URL` it speaks HTTP to that server as the user of the token in SPECTRA_TOKEN.
Without it, the same client speaks to an in-process app over `httpx.ASGITransport`, built on the
first call (never for `--help`) on a runtime of the local data directory; that app's caller is
`local:<os user>` (owner rights). The override that makes it so lives here, on the CLI's own app
instance: no header, token or route of a served app can ever produce the local actor.
"""

from __future__ import annotations

import gc
import json as jsonlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from spectra.cli.output import EXIT_BY_KIND, fail, fail_error
from spectra.errors import ErrorKind, SpectraError

if TYPE_CHECKING:
    import asyncio

    import httpx
    from pydantic import BaseModel

    from spectra.audit.actor import Actor
    from spectra.kit.pagination import ListResource
    from spectra.runtime import Runtime

    M = TypeVar("M", bound=BaseModel)

# httpx, the in-process app and the event loop are loaded on the first API call, so `--help`
# and argument errors stay fast (tests/cli/test_startup.py).

LOCAL_BASE = "http://spectra.local"
NDJSON = "application/x-ndjson"
TIMEOUT_SECONDS, CONNECT_SECONDS = 300.0, 10.0
KIND_BY_STATUS: dict[int, ErrorKind] = {
    401: ErrorKind.UNAUTHENTICATED,
    402: ErrorKind.REFUSED,
    403: ErrorKind.FORBIDDEN,
    404: ErrorKind.NOT_FOUND,
    409: ErrorKind.CONFLICT,
    422: ErrorKind.INVALID,
    429: ErrorKind.RATE_LIMITED,
    503: ErrorKind.UNAVAILABLE,
}


class ApiError(Exception):
    """An error answer of the REST API, with the server's code, sentence and details."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def fail(self) -> NoReturn:
        """Print the server's sentence on stderr and exit with the code of its kind."""
        kind = KIND_BY_STATUS.get(self.status, ErrorKind.UPSTREAM)
        fail(self.message, EXIT_BY_KIND.get(kind, 1))


@dataclass
class Transport:
    """One CLI invocation's event loop, client and (in process) runtime."""

    server: str | None = None
    token: str | None = None
    runner: asyncio.Runner | None = None
    client: httpx.AsyncClient | None = None
    runtime: Runtime | None = None

    @property
    def where(self) -> str:
        return self.server or "the local data directory"

    def run(self, make: Callable[[httpx.AsyncClient], Any]) -> Any:
        """Run `make(client)` (a coroutine) on this invocation's loop, opening the client once."""
        import httpx

        async def go() -> Any:
            if self.client is None:
                self.client = await self._open()
            return await make(self.client)

        if self.runner is None:
            import asyncio

            self.runner = asyncio.Runner()
        try:
            return self.runner.run(go())
        except SpectraError as exc:
            fail_error(exc)
        except httpx.HTTPError as exc:
            fail(f"Cannot reach {self.where}: {exc}.", 9)

    async def _open(self) -> httpx.AsyncClient:
        import httpx

        timeout = httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS)
        if self.server is not None:
            token = self.token or os.environ.get("SPECTRA_TOKEN")
            if not token:
                fail(
                    "--server needs an API token in SPECTRA_TOKEN (create one with `spectra tokens create`).",
                    5,
                )
            return httpx.AsyncClient(
                base_url=self.server, headers={"authorization": f"Bearer {token}"}, timeout=timeout
            )
        from spectra.api.deps import get_actor
        from spectra.app import create_app
        from spectra.cli import workspace
        from spectra.cli.asgi import StreamingASGITransport
        from spectra.runtime import build_runtime

        workspace.announce()
        self.runtime = await build_runtime()
        await self.runtime.start(serve=False, run_jobs=False)
        await _follow_the_server(self.runtime)
        app = create_app(self.runtime, surfaces=("api",))  # what the CLI calls, and no more
        app.dependency_overrides[get_actor] = _local_caller
        return httpx.AsyncClient(
            transport=StreamingASGITransport(app), base_url=LOCAL_BASE, timeout=timeout
        )

    def close(self) -> None:
        if self.runner is None:  # no call was made (`--help`, a refused argument)
            self.client = self.runtime = None
            return
        import asyncio

        async def go() -> None:
            if self.client is not None:
                await self.client.aclose()
            if self.runtime is not None:
                from spectra.runtime import close_runtime

                await close_runtime(self.runtime)
            # A database connection dropped without being closed is closed by the collector on
            # its worker thread, which answers on this loop: let that happen while it is open.
            gc.collect()
            await asyncio.sleep(0.05)

        try:
            if self.client is not None:
                self.runner.run(go())
        finally:
            self.client = None
            self.runtime = None
            self.runner.close()
            self.runner = None


async def _follow_the_server(runtime: Runtime) -> None:
    """Links the in-process app prints (set-up links, snippets) name the server that runs on
    this database, not this command's own default address."""
    from spectra.runtime import serving_public_url

    if runtime.settings.public_url:
        return
    url = await serving_public_url(runtime)
    if url:
        runtime.settings = runtime.settings.model_copy(update={"public_url": url})


def _local_caller() -> Actor:
    from spectra.audit.actor import local_actor

    return local_actor()


_current: Transport | None = None


def configure(server: str | None, token: str | None = None) -> Transport:
    """Start this invocation's transport (closing a previous one: tests invoke many times)."""
    global _current
    if _current is not None:
        _current.close()
    _current = Transport(server=server.rstrip("/") if server else None, token=token)
    return _current


def remote() -> bool:
    """Whether this invocation speaks to `--server` (else to the in-process app)."""
    return current().server is not None


def current() -> Transport:
    return _current if _current is not None else configure(None)


def close() -> None:
    global _current
    if _current is not None:
        _current.close()
        _current = None


def _clean(params: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (params or {}).items() if v is not None}


def raise_for_error(response: httpx.Response, where: str) -> None:
    """Turn an error answer into `ApiError` (the server's own code and sentence)."""
    if response.status_code < 400:
        return
    try:
        err = response.json()["error"]
        code, message, details = str(err["code"]), str(err["message"]), err.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message, details = "http_error", f"{where} answered {response.status_code}.", {}
    raise ApiError(response.status_code, code, message, details)


def call(
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Call the REST API; the decoded answer (None for an empty one). Raises `ApiError`."""
    transport = current()

    async def go(client: httpx.AsyncClient) -> Any:
        response = await client.request(
            method, path, json=json, params=_clean(params), headers=headers
        )
        raise_for_error(response, transport.where)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    return transport.run(go)


def api(method: str, path: str, **options: Any) -> Any:
    """`call` (same options), with an error answer printed as one sentence on stderr and a
    non-zero exit."""
    try:
        return call(method, path, **options)
    except ApiError as exc:
        exc.fail()


def read(model: type[M], method: str, path: str, **options: Any) -> M:
    """`api` (same options), its answer parsed into `model`: the response model the route
    declares, so the command reads typed attributes and a drifted answer fails here."""
    return model.model_validate(api(method, path, **options))


def read_page(model: type[M], path: str, **options: Any) -> ListResource[M]:
    """`GET path` (same options as `api`), a list answer parsed into `ListResource[model]`."""
    from spectra.kit.pagination import ListResource

    return ListResource[model].model_validate(api("GET", path, **options))  # type: ignore[valid-type]


def stream(method: str, path: str, on_chunk: Callable[[bytes], None], **options: Any) -> None:
    """Stream a successful answer's body into `on_chunk` as it arrives (after `on_start` saw its
    headers; options as `_stream`); an error answer is printed as one sentence with a non-zero
    exit."""
    try:
        _stream(method, path, on_chunk, **options)
    except ApiError as exc:
        exc.fail()


def _stream(
    method: str,
    path: str,
    on_chunk: Callable[[bytes], None],
    *,
    on_start: Callable[[httpx.Headers], None] | None = None,
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    transport = current()

    async def go(client: httpx.AsyncClient) -> None:
        async with _streamed(
            client, method, path, json=json, params=_clean(params), headers=headers
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise_for_error(response, transport.where)
            if on_start is not None:
                on_start(response.headers)
            async for chunk in response.aiter_bytes():
                on_chunk(chunk)

    transport.run(go)


def call_with_progress(
    method: str, path: str, on_progress: Callable[[int, int], None], *, json: Any = None
) -> Any:
    """Call a bulk route with a streamed progress answer (see `spectra.api.progress`): each step
    goes to `on_progress(done, total)`; returns the result. Raises `ApiError`."""
    pending = bytearray()
    answer: dict[str, Any] = {}

    def handle(message: dict[str, Any]) -> None:
        if "progress" in message:
            on_progress(message["progress"]["done"], message["progress"]["total"])
        elif "result" in message:
            answer["result"] = message["result"]
        elif "error" in message:
            err = message["error"]
            raise ApiError(err["status"], err["code"], err["message"], err.get("details") or {})

    def on_chunk(chunk: bytes) -> None:
        pending.extend(chunk)
        while (end := pending.find(b"\n")) >= 0:
            line = bytes(pending[:end])
            del pending[: end + 1]
            if line.strip():
                handle(jsonlib.loads(line))

    _stream(method, path, on_chunk, json=json, headers={"accept": NDJSON})
    if "result" not in answer:
        raise ApiError(502, "incomplete_answer", f"{current().where} ended its answer early.", {})
    return answer["result"]


@asynccontextmanager
async def _streamed(
    client: httpx.AsyncClient, method: str, path: str, **kwargs: Any
) -> AsyncIterator[httpx.Response]:
    async with client.stream(method, path, **kwargs) as response:
        yield response
