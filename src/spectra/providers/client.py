"""The shared upstream HTTP client: one aiohttp session per process, streaming without
buffering, every transport failure translated once into `UpstreamFailure`.

The session is created lazily inside the running loop and closed by `close()` at
shutdown. It never decompresses (the upstream's `content-encoding` passes through), never
follows redirects, keeps no cookies, and adds no header of its own beyond `Host` and
`Content-Length`. The seam for tests is `connector_factory` (or simply a `base_url`
pointing at the fake upstream on a local port).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from .errors import UpstreamFailure, classify_exception, classify_response

# aiohttp would otherwise add its own User-Agent, Accept, Accept-Encoding and an
# octet-stream Content-Type; the caller's own values (if any) are what the upstream sees.
_SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
_TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. `first_byte` runs from the start of `send` to the response headers (so it
    includes `connect`); a non-streamed request's headers come only after the whole
    generation, so give those a generous `first_byte`. `idle` bounds each wait for the
    next body chunk."""

    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 300.0


@dataclass(frozen=True, slots=True)
class ClientLimits:
    max_connections: int = 1000
    max_per_host: int = 0
    """0 means no per-host limit beyond `max_connections`."""
    keepalive_seconds: float = 60.0
    dns_cache_seconds: int = 300


class UpstreamResponse:
    """An upstream response whose body has not been read yet.

    Read it with `iter_chunks()` (streaming) or `read()`; then `release()` it, or `close()`
    it to abort the upstream request (the caller went away). It is an async context
    manager that releases on exit.
    """

    __slots__ = ("_idle", "_resp", "headers", "raw_headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse, *, idle: float) -> None:
        self._resp = resp
        self._idle = idle
        self.status: int = resp.status
        self.headers: CIMultiDictProxy[str] = resp.headers
        self.raw_headers: tuple[tuple[bytes, bytes], ...] = resp.raw_headers

    def header_pairs(self) -> list[tuple[str, str]]:
        """The response headers as (name, value) pairs, in the upstream's order and case."""
        return [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in self.raw_headers
        ]

    async def iter_chunks(self) -> AsyncGenerator[bytes, None]:
        """Yield body bytes as they arrive (no buffering, no decompression)."""
        content = self._resp.content
        idle = self._idle
        while True:
            try:
                # What has arrived already (the same bytes readany would return) is taken
                # without arming a timer; only a real wait is bounded by the idle timeout.
                chunk = content.read_nowait()
                if not chunk and not content.at_eof():
                    async with asyncio.timeout(idle):
                        chunk = await content.readany()
            except _TRANSPORT_ERRORS as exc:
                self._resp.close()
                raise classify_exception(exc, after_headers=True) from exc
            if not chunk:
                return
            yield chunk

    async def read(self) -> bytes:
        """Read the whole body (each wait bounded by the idle timeout)."""
        content = self._resp.content
        parts: list[bytes] = []
        while True:
            try:
                # As in iter_chunks: what has arrived already is taken without a timer.
                chunk = content.read_nowait()
                if not chunk and not content.at_eof():
                    async with asyncio.timeout(self._idle):
                        chunk = await content.readany()
                if not chunk:
                    break
            except _TRANSPORT_ERRORS as exc:
                self._resp.close()
                raise classify_exception(exc, after_headers=True) from exc
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def raise_for_failure(self, provider: str) -> None:
        """Read the body and raise the classified `UpstreamFailure` when status >= 400."""
        if self.status < 400:
            return
        body = await self.read()
        self.release()
        failure = classify_response(provider, self.status, self.header_pairs(), body)
        if failure is not None:
            raise failure

    def release(self) -> None:
        """Return the connection to the pool (closes it if the body was not fully read)."""
        self._resp.release()

    def close(self) -> None:
        """Abort: close the connection so the upstream stops generating."""
        self._resp.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.release()
        else:
            self.close()


class UpstreamClient:
    """The process-wide upstream client. Create it once (app lifespan), `await close()` at
    shutdown. Safe to share between tasks of one event loop."""

    def __init__(
        self,
        *,
        limits: ClientLimits | None = None,
        connector_factory: Callable[[], aiohttp.BaseConnector] | None = None,
        trust_env: bool = False,
    ) -> None:
        self._limits = limits or ClientLimits()
        self._connector_factory = connector_factory
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _connector(self) -> aiohttp.BaseConnector:
        if self._connector_factory is not None:
            return self._connector_factory()
        limits = self._limits
        return aiohttp.TCPConnector(
            limit=limits.max_connections,
            limit_per_host=limits.max_per_host,
            keepalive_timeout=limits.keepalive_seconds,
            ttl_dns_cache=limits.dns_cache_seconds,
            use_dns_cache=True,
        )

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and not session.closed and self._loop is loop:
            return session
        if session is not None and not session.closed:
            raise RuntimeError("UpstreamClient was used from a second event loop; close it first")
        self._session = aiohttp.ClientSession(
            connector=self._connector(),
            auto_decompress=False,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=self._trust_env,
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )
        self._loop = loop
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]],
        body: bytes | None = None,
        timeouts: Timeouts | None = None,
    ) -> UpstreamResponse:
        """Send one request and return once the response headers arrived.

        Any status is returned as a response (classify with `classify_response` or
        `raise_for_failure`); transport failures raise `UpstreamFailure` (timeout or
        connect_error). The URL is sent as given (no re-quoting)."""
        timeouts = timeouts or Timeouts()
        session = self._get_session()
        request_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=timeouts.connect, sock_read=None
        )
        try:
            async with asyncio.timeout(timeouts.first_byte):
                resp = await session.request(
                    method,
                    URL(url, encoded=True),
                    headers=list(headers),
                    data=body,
                    timeout=request_timeout,
                    allow_redirects=False,
                    compress=None,
                )
        except _TRANSPORT_ERRORS as exc:
            raise classify_exception(exc, after_headers=False) from exc
        return UpstreamResponse(resp, idle=timeouts.idle)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


__all__ = ["ClientLimits", "Timeouts", "UpstreamClient", "UpstreamFailure", "UpstreamResponse"]
