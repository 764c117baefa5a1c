"""Real receivers for the channel tests: an SMTP server (aiosmtpd) and an HTTP server that keeps
every request it gets, both on free local ports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from tests.support.redis import free_port


def text_of(message: Message) -> str:
    """A received single-part message's text."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes


@asynccontextmanager
async def http_receiver(status: int = 200) -> AsyncIterator[tuple[list[Hit], str]]:
    hits: list[Hit] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(Hit(request.path, dict(request.headers), await request.read()))
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield hits, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def until(check: Callable[[], Any], within: float = 20.0) -> Any:
    """Poll `check` (sync or async) until it returns something truthy, with a generous deadline."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
