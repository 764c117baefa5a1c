"""The group policy form offers every client family and drafts the new ones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.factories import make_group

from spectra.db.session import session_scope
from spectra.policy.models import PolicyDraft
from spectra.runtime import Runtime
from spectra.usage.clients import CLIENT_FAMILIES


async def test_group_policy_form_offers_and_drafts_the_new_families(
    browser: Any, runtime: Runtime
) -> None:
    async with session_scope(runtime.db) as session:
        await make_group(session, name="Platform")
    b = await browser(role="admin")
    page = await b.get("/console/groups/Platform/policy")
    for family in CLIENT_FAMILIES:
        assert f'id="f-client-{family}"' in page.text
    response = await b.post_form(
        "/console/policy/drafts",
        {
            "group": "Platform",
            "allowed_clients": ["opencode", "qwen_code", "kilo_code", "cline"],
            "wallet_fallback": "on",
            "group_wallet_fallback": "on",
        },
    )
    assert response.status_code == 303, response.text
    async with session_scope(runtime.db) as session:
        draft = (await session.execute(select(PolicyDraft))).scalar_one()
    assert draft.changes == {"allowed_clients": ["opencode", "qwen_code", "kilo_code", "cline"]}
