"""A shutdown step stuck on a peer (a mail server, a webhook receiver) cannot keep a stopping
process alive: the runtime moves on after the gateway's grace plus a bound, logs which step, and
still runs the steps after it."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from spectra import runtime as runtime_module
from spectra.config import Settings
from spectra.runtime import build_runtime, close_runtime


async def test_a_stuck_shutdown_hook_is_left_behind_and_the_rest_still_run(
    settings: Settings,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(runtime_module, "SHUTDOWN_STEP_SECONDS", 0.2)
    rt = await build_runtime(
        settings.model_copy(update={"gateway_shutdown_grace": 0.0}), migrate_schema=False
    )
    await rt.start(serve=False, run_jobs=False)
    ran: list[str] = []

    async def stuck() -> None:
        await asyncio.Event().wait()

    async def after() -> None:
        ran.append("after")

    rt.on_stop.append(after)  # hooks run in reverse: `stuck` first, then `after`
    rt.on_stop.append(stuck)
    with caplog.at_level(logging.ERROR, logger="spectra.runtime"):
        await asyncio.wait_for(close_runtime(rt), 20)
    assert ran == ["after"]
    assert not rt.started
    assert any("did not finish in 0 s" in r.getMessage() for r in caplog.records)
