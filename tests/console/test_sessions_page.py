"""The sessions page a new-device mail links to: the user's live sessions, the current one
marked, and signing every other one out (audited)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import select

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.runtime import Runtime

from .conftest import BASE, PASSWORD, Browser

OpenBrowser = Callable[..., Awaitable[Browser]]


async def test_the_page_lists_sessions_and_signs_the_others_out(
    runtime: Runtime, app: Any, browser: OpenBrowser
) -> None:
    me = await browser(role="member")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"user-agent": "Other/1.0 (Windows)"},
    ) as other:
        signed = await other.post(
            "/console/login", data={"email": me.user.email, "password": PASSWORD}
        )
        assert signed.status_code == 303
        assert (await other.get("/console/me")).status_code == 200
        page = await me.get("/console/account/sessions")
        assert page.status_code == 200
        assert page.text.count("<tr>") == 3  # the header and two sessions
        assert "Other/1.0 (Windows)" in page.text
        assert page.text.count("this session") == 1
        done = await me.post_form("/console/account/sessions/end-others")
        assert done.status_code == 303
        assert (await other.get("/console/me")).status_code == 303
        assert (await me.get("/console/me")).status_code == 200
        after = await me.get("/console/account/sessions")
        assert after.text.count("<tr>") == 2
    async with session_scope(runtime.db) as session:
        event = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "auth.sessions_ended")
            )
        ).scalar_one()
    assert event.details == {"ended": 1}


async def test_a_member_sees_only_their_own_sessions(browser: OpenBrowser) -> None:
    ada = await browser(role="member")
    await browser(role="member")
    page = await ada.get("/console/account/sessions")
    assert page.text.count("<tr>") == 2
