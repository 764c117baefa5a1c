"""Low-balance webhooks: signed with the server's webhook subkey, retried with backoff, delivered
in the background after commit (the writer never waits)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import select, text
from tests.factories import make_user

from spectra.audit import anchors as audit_anchors
from spectra.audit import service as audit_service
from spectra.audit.verify import anchor_head
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger import webhooks
from spectra.ledger.models import LowBalanceNotice
from spectra.runtime import Runtime

from .factories import admin

ADMIN = admin()


class Receiver:
    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.got = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((await request.read(), dict(request.headers)))
        if len(self.calls) <= self.fail_first:
            return web.Response(status=503)
        self.got.set()
        return web.Response(status=204)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rx = Receiver(fail_first=1)
    app = web.Application()
    app.router.add_post("/hook", rx.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield rx, f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def test_a_crossing_is_signed_delivered_and_retried(
    runtime: Runtime, receiver: tuple[Receiver, str], clock: object
) -> None:
    rx, url = receiver
    dispatcher = webhooks.current()
    assert dispatcher is not None
    dispatcher.url_of = lambda: url
    async with session_scope(runtime.db) as s:
        user = await make_user(s)
        await ledger_service.recharge(
            s, ADMIN, user_id=user.id, amount=10_000_000, memo="m", idempotency_key="r"
        )
        await ledger_service.set_low_balance_threshold(
            s, ADMIN, user_id=user.id, threshold=5_000_000
        )
    async with session_scope(runtime.db) as s:
        await ledger_service.adjust(
            s, ADMIN, user_id=user.id, amount=-6_000_000, reason="spend", idempotency_key="a"
        )
    # After commit the dispatcher ran in the background: the first attempt got a 503.
    await dispatcher.wait_idle()
    assert len(rx.calls) == 1
    async with session_scope(runtime.db) as s:
        notice = (await s.execute(select(LowBalanceNotice))).scalar_one()
        assert (notice.delivery, notice.attempts, notice.last_error) == ("pending", 1, "HTTP 503")
        assert notice.next_attempt_at == clock_module.utc_now() + timedelta(seconds=2)
    assert await dispatcher.deliver_due() == 0  # not due yet: backoff
    clock_module.advance(timedelta(seconds=3))
    assert await dispatcher.deliver_due() == 1
    body, headers = rx.calls[-1]
    assert webhooks.verify_signature(
        runtime.keys.webhook_key, body, headers[webhooks.SIGNATURE_HEADER]
    )
    assert not webhooks.verify_signature(b"x" * 32, body, headers[webhooks.SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["event"] == "ledger.low_balance"
    assert payload["balance"] == "4.00"
    assert payload["threshold"] == "5.00"
    async with session_scope(runtime.db) as s:
        notice = (await s.execute(select(LowBalanceNotice))).scalar_one()
        assert notice.delivery == "delivered"
        assert notice.attempts == 2


async def test_gives_up_after_the_last_attempt(
    runtime: Runtime, receiver: tuple[Receiver, str], clock: object
) -> None:
    rx, url = receiver
    rx.fail_first = 100
    dispatcher = webhooks.current()
    assert dispatcher is not None
    dispatcher.url_of = lambda: url
    dispatcher.max_attempts = 2
    async with session_scope(runtime.db) as s:
        user = await make_user(s)
        await ledger_service.recharge(
            s, ADMIN, user_id=user.id, amount=2_000_000, memo="m", idempotency_key="r"
        )
        await ledger_service.set_low_balance_threshold(
            s, ADMIN, user_id=user.id, threshold=1_000_000
        )
        await ledger_service.adjust(
            s, ADMIN, user_id=user.id, amount=-1_500_000, reason="x", idempotency_key="a"
        )
    await dispatcher.wait_idle()
    for _ in range(3):
        await dispatcher.deliver_due()
        clock_module.advance(timedelta(hours=2))
    async with session_scope(runtime.db) as s:
        notice = (await s.execute(select(LowBalanceNotice))).scalar_one()
        assert notice.delivery == "failed"
        assert notice.attempts == 2


@pytest.mark.parametrize("header", ["", "t=1", "v1=abc", "t=x,v1=y"])
def test_malformed_signatures_are_rejected(header: str) -> None:
    assert not webhooks.verify_signature(b"k" * 32, b"{}", header)


async def test_an_audit_anchor_is_posted_signed(
    runtime: Runtime, receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.fail_first = 0
    dispatcher = webhooks.current()
    assert dispatcher is not None
    dispatcher.url_of = lambda: url
    async with session_scope(runtime.db) as s:
        await audit_service.record(s, ADMIN, "audit.test")
    anchor_log = audit_anchors.current()
    assert anchor_log is not None

    async with session_scope(runtime.db) as s:
        anchor = await anchor_head(s, anchor_log)

    assert anchor is not None
    body, headers = rx.calls[-1]
    assert headers["X-Spectra-Event"] == "audit.anchor"
    assert webhooks.verify_signature(
        runtime.keys.webhook_key, body, headers[webhooks.SIGNATURE_HEADER]
    )
    payload = json.loads(body)
    assert (payload["event"], payload["seq"], payload["hash"], payload["sig"]) == (
        "audit.anchor",
        anchor.seq,
        anchor.hash,
        anchor.sig,
    )


async def test_a_broken_audit_chain_is_posted_once_per_problem(
    runtime: Runtime, receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.fail_first = 0
    dispatcher = webhooks.current()
    assert dispatcher is not None
    dispatcher.url_of = lambda: url
    anchor_log = audit_anchors.current()
    assert anchor_log is not None
    async with session_scope(runtime.db) as s:
        for _ in range(3):
            await audit_service.record(s, ADMIN, "audit.test")
    async with session_scope(runtime.db) as s:
        anchor = await anchor_head(s, anchor_log)
    assert anchor is not None
    async with session_scope(runtime.db) as s:
        await s.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": anchor.seq})

    for _ in range(2):
        async with session_scope(runtime.db) as s:
            assert await anchor_head(s, anchor_log) is None

    broken = [json.loads(body) for body, h in rx.calls if h["X-Spectra-Event"] == "audit.broken"]
    assert len(broken) == 1
    assert broken[0]["event_id"] == anchor.seq
    assert broken[0]["problem"].startswith(f"event {anchor.seq} is missing")
