"""A write is committed before its answer starts: a client acting on the answer (a redirect, a
follow-up read on another connection) sees it, and a failed commit can still be an error answer.

FastAPI ends `yield` dependencies after the response by default; the write session is declared
with `scope="function"` so it ends (commits) before. Checked at the ASGI level: when the app
sends `http.response.start`, another connection must already see the row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from spectra.audit.actor import Actor, local_actor
from spectra.db.session import read_scope
from spectra.runtime import Runtime
from spectra.users.models import Group


async def test_the_write_is_visible_when_the_answer_starts(
    app: Any, runtime: Runtime, act_as: Callable[[Actor], None]
) -> None:
    act_as(local_actor())
    body = json.dumps({"name": "Committed-first"}).encode()
    seen_at_start: list[bool] = []
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            async with read_scope(runtime.db) as other:
                found = await other.scalar(select(Group.id).where(Group.name == "Committed-first"))
            seen_at_start.append(found is not None)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/groups",
        "raw_path": b"/api/groups",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"spectra.test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("spectra.test", 80),
        "state": {},
    }
    await app(scope, receive, send)
    assert status == [201]
    assert seen_at_start == [True]
