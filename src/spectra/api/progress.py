"""Streamed progress for bulk actions (package assignment to a group, migrations, CSV imports).

A client that sends `Accept: application/x-ndjson` gets one JSON line per step,
`{"progress": {"done": N, "total": T}}`, then one last line: `{"result": <the usual answer>}`
once the work is committed, or `{"error": {"status", "code", "message", "details"}}` (nothing
written). Any other client gets the usual single answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from starlette.responses import StreamingResponse

from spectra.api.handlers import STATUS_BY_KIND
from spectra.db.hub import Hub
from spectra.db.session import Session, session_scope
from spectra.errors import SpectraError

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
Tick = Callable[[int, int], None]
Work = Callable[[Session, Tick], Awaitable[Any]]

PROGRESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "With `Accept: application/x-ndjson`: progress lines, then the result.",
        "content": {NDJSON: {"schema": {"type": "string"}}},
    }
}


def wants_progress(request: Request) -> bool:
    return NDJSON in request.headers.get("accept", "")


async def answer(
    request: Request,
    runtime: Hub,
    session: Session,
    work: Callable[[Session, Tick | None], Awaitable[Any]],
    *,
    streamable: bool = True,
) -> Any:
    """`work` on the request's unit of work, or, when the client asked for progress and the
    work is `streamable` (a change, not a preview), streamed in its own (`progress_answer`)."""
    if streamable and wants_progress(request):
        return progress_answer(runtime, work)
    return await work(session, None)


def _line(kind: str, value: Any) -> bytes:
    return (json.dumps({kind: jsonable_encoder(value)}, default=str) + "\n").encode()


def progress_answer(runtime: Hub, work: Work) -> StreamingResponse:
    """Run `work(session, tick)` in its own unit of work while streaming its progress."""

    async def lines() -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def tick(done: int, total: int) -> None:
            queue.put_nowait(_line("progress", {"done": done, "total": total}))

        async def run() -> None:
            try:
                async with session_scope(runtime.db) as session:
                    result = await work(session, tick)
                queue.put_nowait(_line("result", result))
            except SpectraError as exc:
                status = STATUS_BY_KIND.get(exc.kind, 400)
                error = {
                    "status": status,
                    "code": exc.code,
                    "message": exc.message,
                    "details": exc.details,
                }
                queue.put_nowait(_line("error", error))
            except Exception:
                log.exception("bulk action failed")
                error = {
                    "status": 500,
                    "code": "internal_error",
                    "message": "Something went wrong on our side.",
                }
                queue.put_nowait(_line("error", error))
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(run())
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            await task

    return StreamingResponse(lines(), media_type=NDJSON)
