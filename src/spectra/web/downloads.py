"""Downloads the API and the console both answer: a streamed export whose read session lives as
long as the stream, and the CSV of a new batch of recharge codes (shown this once)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Protocol

from spectra.db.hub import Hub
from spectra.db.session import ReadSession, read_scope
from spectra.kit import spreadsheet
from spectra.kit.money import format_amount


async def streamed_lines(
    runtime: Hub, open_lines: Callable[[ReadSession], Awaitable[AsyncIterator[str]]]
) -> AsyncIterator[bytes]:
    """The body of a streamed export: `open_lines` runs now (a refusal is an ordinary error
    answer), in a read session of its own that closes when the stream ends (the request's
    session closes before a streamed body is sent)."""
    stack = AsyncExitStack()
    session = await stack.enter_async_context(read_scope(runtime.db))
    try:
        lines = await open_lines(session)
    except BaseException:
        await stack.aclose()
        raise

    async def body() -> AsyncIterator[bytes]:
        async with stack:
            async for line in lines:
                yield line.encode()

    return body()


class CodeBatch(Protocol):
    """A batch of recharge codes as either surface holds it (its row, or its read model)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def value_micros(self) -> int: ...
    @property
    def expires_at(self) -> datetime | None: ...


def codes_csv(codes: Iterable[str], batch: CodeBatch) -> str:
    """One row per code of a batch: the code, its value, when it expires, the batch."""
    out = io.StringIO()
    writer = spreadsheet.writer(out)
    writer.writerow(["code", "value", "expires_at", "batch_id"])
    for code in codes:
        writer.writerow(
            [
                code,
                format_amount(batch.value_micros),
                batch.expires_at.isoformat() if batch.expires_at else "",
                str(batch.id),
            ]
        )
    return out.getvalue()


def codes_disposition(batch_id: uuid.UUID) -> str:
    return f'attachment; filename="codes-{batch_id}.csv"'
