"""The console's explain views show the pool step: which accounts could serve the model, in
which protocol, and why the others are skipped; a model no account serves is refused."""

from __future__ import annotations

import html
import re
from typing import Any

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.pool import service as pool_service
from spectra.pool.schemas import AccountCreate
from spectra.runtime import Runtime

KEY = "sk-console-explain-upstream-0001"


async def _account(
    runtime: Runtime, name: str, provider: str, models: list[str], **extra: Any
) -> None:
    async with session_scope(runtime.db) as session:
        await pool_service.add_account(
            session,
            local_actor(),
            data=AccountCreate.model_validate(
                {
                    "name": name,
                    "provider": provider,
                    "base_url": "http://127.0.0.1:9",
                    "api_key": KEY,
                    "models": models,
                    **extra,
                }
            ),
        )


def _row(page: str, account: str) -> str:
    found = re.search(rf'<tr data-account="{re.escape(account)}">(.*?)</tr>', page, re.S)
    assert found, f"no pool row for {account}"
    return html.unescape(found.group(1))


async def test_admin_explain_shows_the_pool_accounts_and_why(
    browser: Any, runtime: Runtime
) -> None:
    admin = await browser(role="admin")
    async with session_scope(runtime.db) as session:
        await ledger_service.recharge(
            session,
            local_actor(),
            user_id=admin.user.id,
            group_id=None,
            amount=parse_amount("5"),
            memo="test",
            idempotency_key="console-explain-recharge",
        )
    await _account(runtime, "claude-main", "anthropic", ["claude-*"])
    await _account(runtime, "claude-closed", "anthropic", ["claude-*"], translate=False)
    await _account(runtime, "gpt", "openai", ["gpt-*"])
    page = await admin.get(
        "/console/policy",
        params={"user": admin.user.email, "model": "claude-sonnet-4-5", "protocol": "openai_chat"},
    )
    assert page.status_code == 200
    text = page.text
    assert 'id="pool-step"' in text
    assert "asked in openai_chat" in text
    main = _row(text, "claude-main")
    assert "anthropic_messages" in main
    assert "(translated)" in main
    assert "yes" in main
    assert "translation off" in _row(text, "claude-closed")
    assert "model not listed" in _row(text, "gpt")
    assert '<option value="openai_chat" selected>' in text

    unserved = await admin.get(
        "/console/policy", params={"user": admin.user.email, "model": "gemini-2.5-pro"}
    )
    assert 'state-refused">refused</span> gemini-2.5-pro' in unserved.text
    assert '<dd class="mono">model_not_served</dd>' in unserved.text
    assert "No account in this workspace serves gemini-2.5-pro" in html.unescape(unserved.text)


async def test_member_explain_hides_account_names(browser: Any, runtime: Runtime) -> None:
    member = await browser(role="member")
    await _account(runtime, "private-upstream", "anthropic", ["claude-*"])
    page = await member.get("/console/me/explain", params={"model": "claude-sonnet-4-5"})
    assert page.status_code == 200
    assert 'id="pool-step"' in page.text
    assert "account 1" in _row(page.text, "account 1")
    assert "private-upstream" not in page.text
