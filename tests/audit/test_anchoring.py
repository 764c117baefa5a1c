"""Anchoring in a running process: the leased job, the anchor a serving process leaves when it
stops, the anchor after a verify, and the API naming events deleted after an anchor."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from tests.factories import make_user

from spectra.audit import anchors
from spectra.audit import service as audit_service
from spectra.audit.actor import local_actor
from spectra.audit.jobs import ANCHOR_JOB
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.runtime import Runtime


async def _record(runtime: Runtime, count: int) -> None:
    async with session_scope(runtime.db) as session:
        for n in range(count):
            await audit_service.record(session, local_actor(), "audit.test", target_id=str(n))


async def _head(runtime: Runtime) -> int:
    async with session_scope(runtime.db) as session:
        return int((await session.execute(text("SELECT MAX(id) FROM audit_events"))).scalar_one())


async def _auditor_headers(runtime: Runtime) -> dict[str, str]:
    async with session_scope(runtime.db) as session:
        auditor = await make_user(session, role="auditor")
        _, secret = await keys_service.create_token(session, local_actor(), user_id=auditor.id)
    return {"authorization": f"Bearer {secret}"}


def _anchored(runtime: Runtime) -> list[int]:
    log = anchors.current()
    assert log is not None
    assert log.path == runtime.settings.resolved_audit_anchor_file
    return [a.seq for a in log.read().anchors]


async def test_the_job_anchors_and_the_api_names_the_events_deleted_after_it(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    headers = await _auditor_headers(runtime)
    await _record(runtime, 4)
    head = await _head(runtime)
    job = next(j for j in runtime.jobs.jobs if j.name == ANCHOR_JOB)
    assert job.interval == runtime.settings.audit_anchor_interval
    await job.run()
    assert _anchored(runtime) == [head]
    async with session_scope(runtime.db) as session:
        await session.execute(text("DELETE FROM audit_events WHERE id > :n"), {"n": head - 2})

    body = (await client.get("/api/audit/verify", headers=headers)).json()

    assert body["ok"] is False
    assert body["first_problem"]["event_id"] == head - 1
    assert body["first_problem"]["problem"].startswith(
        f"events {head - 1}–{head} are missing: the anchor of "
    )
    assert body["first_problem"]["problem"].endswith(f"saw head {head}")
    assert _anchored(runtime) == [head]  # a shortened chain is never anchored


async def test_an_intact_verify_anchors_the_head(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    headers = await _auditor_headers(runtime)
    await _record(runtime, 2)

    body = (await client.get("/api/audit/verify", headers=headers)).json()

    assert body["ok"] is True
    assert body["anchor_seq"] is None
    assert _anchored(runtime) == [body["head"]]
    again = (await client.get("/api/audit/verify", headers=headers)).json()
    assert again["anchor_seq"] == body["head"]


async def test_a_serving_process_anchors_when_it_stops(runtime: Runtime) -> None:
    await runtime.take_serve_lease()
    await _record(runtime, 3)
    head = await _head(runtime)

    await runtime.stop()

    assert _anchored(runtime) == [head]


async def test_a_command_runtime_does_not_anchor_when_it_stops(runtime: Runtime) -> None:
    await _record(runtime, 1)

    await runtime.stop()

    assert _anchored(runtime) == []
