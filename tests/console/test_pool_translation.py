"""The account form's translation switch: add with it off, see it, turn it on, audited."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.pool.models import PoolAccount
from spectra.runtime import Runtime


async def _account(runtime: Runtime) -> PoolAccount:
    async with session_scope(runtime.db) as session:
        return (await session.execute(select(PoolAccount))).scalar_one()


async def test_the_account_form_sets_and_shows_the_translation_switch(
    browser: Any, runtime: Runtime
) -> None:
    b = await browser(role="admin")
    listing = await b.get("/console/pool")
    assert re.search(r'<select id="f-translate" name="translate">', listing.text)
    assert re.search(r'<option value="on" selected>allowed', listing.text)
    form = {
        "provider": "openai_compatible",
        "name": "deepseek",
        "base_url": "https://api.deepseek.com/v1",
        "api_key": "sk-deepseek-secret-9876",
        "models": "deepseek-chat",
        "aliases": "claude-sonnet-4-5=deepseek-chat",
        "translate": "off",
    }
    response = await b.post_form("/console/pool", form)
    assert response.status_code == 303, response.text
    account = await _account(runtime)
    assert account.is_translation_allowed is False
    page = await b.get(f"/console/pool/{account.id}")
    assert '<dd id="account-translate">off</dd>' in page.text
    assert '<option value="off" selected>off' in page.text

    edit = {
        "name": "deepseek",
        "base_url": "https://api.deepseek.com/v1",
        "models": "deepseek-chat",
        "aliases": "claude-sonnet-4-5=deepseek-chat",
        "priority": "0",
        "weight": "100",
        "cost_basis": "list_price",
        "translate": "on",
    }
    saved = await b.post_form(f"/console/pool/{account.id}/edit", edit)
    assert saved.status_code == 303
    assert (await _account(runtime)).is_translation_allowed is True
    page = await b.get(f"/console/pool/{account.id}")
    assert '<dd id="account-translate">allowed</dd>' in page.text
    async with session_scope(runtime.db) as session:
        event = (
            await session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "pool.account_updated")
                .order_by(AuditEvent.id.desc())
            )
        ).scalar_one()
    assert event.after == {"is_translation_allowed": True}
