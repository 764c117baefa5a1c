"""The in-process transport hands each body chunk over as the app sends it, so a bulk change's
progress bar moves while the change runs (httpx.ASGITransport would buffer the whole answer)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from spectra.cli.asgi import StreamingASGITransport


async def test_chunks_arrive_while_the_app_is_still_running() -> None:
    seen_first = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        try:
            await asyncio.wait_for(seen_first.wait(), timeout=5)
            tail = b"while-running"
        except TimeoutError:
            tail = b"only-after-the-app-gave-up"
        await send({"type": "http.response.body", "body": tail, "more_body": False})

    transport = StreamingASGITransport(app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        client.stream("GET", "/") as response,
    ):
        chunks = []
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            seen_first.set()
    assert b"".join(chunks) == b"first;while-running"


async def test_an_app_that_fails_before_answering_raises() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    transport = StreamingASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(RuntimeError, match="boom"):
            await client.get("/")
