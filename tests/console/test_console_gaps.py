"""Model fallbacks and SCIM tokens from the console: the same service functions as the API, each
action audited, bad input a message on the page, a SCIM secret shown once and usable at /scim/v2,
and a member reaches neither."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from tests.factories import make_group

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.keys.models import AdminToken
from spectra.pool.models import ModelFallback
from spectra.runtime import Runtime

from .conftest import Browser

BrowserFactory = Callable[..., Awaitable[Browser]]


async def _audit(runtime: Runtime, prefix: str) -> list[tuple[str, str, Any]]:
    async with session_scope(runtime.db) as session:
        rows = await session.execute(
            select(AuditEvent.action, AuditEvent.target_label, AuditEvent.after)
            .where(AuditEvent.action.like(f"{prefix}%"))
            .order_by(AuditEvent.occurred_at)
        )
        return [tuple(row) for row in rows.all()]


async def _chains(runtime: Runtime) -> list[tuple[str, list[str]]]:
    async with session_scope(runtime.db) as session:
        rows = await session.execute(
            select(ModelFallback.model, ModelFallback.chain).order_by(ModelFallback.model)
        )
        return [(m, list(c)) for m, c in rows.all()]


async def test_an_admin_lists_sets_and_clears_fallback_chains(
    browser: BrowserFactory, runtime: Runtime
) -> None:
    async with session_scope(runtime.db) as session:
        await make_group(session, name="Platform")
    admin = await browser(role="admin")
    pool = await admin.get("/console/pool")
    assert 'href="/console/fallbacks"' in pool.text
    empty = await admin.get("/console/fallbacks")
    assert empty.status_code == 200
    assert "No fallback chain yet." in empty.text

    workspace = await admin.post_form(
        "/console/fallbacks",
        {"model": "Claude-Opus-4-8", "chain": "claude-sonnet-4-5,\ngpt-5", "group": ""},
        referer="/console/fallbacks",
    )
    assert workspace.status_code == 303, workspace.text
    assert workspace.headers["location"] == "/console/fallbacks"
    grouped = await admin.post_form(
        "/console/fallbacks",
        {"model": "claude-opus-4-8", "chain": "gpt-5", "group": "Platform"},
        follow_redirects=True,
    )
    assert "claude-opus-4-8 for group Platform falls back to gpt-5." in grouped.text
    listing = (await admin.get("/console/fallbacks")).text
    assert "claude-sonnet-4-5 → gpt-5" in html.unescape(listing)
    assert "<td>Platform</td>" in listing
    assert await _chains(runtime) == [
        ("claude-opus-4-8", ["claude-sonnet-4-5", "gpt-5"]),
        ("claude-opus-4-8", ["gpt-5"]),
    ]

    cleared = await admin.post_form(
        "/console/fallbacks/clear",
        {"model": "claude-opus-4-8", "group": "Platform"},
        follow_redirects=True,
    )
    assert "Removed the fallback chain of claude-opus-4-8 for group Platform." in cleared.text
    assert await _chains(runtime) == [("claude-opus-4-8", ["claude-sonnet-4-5", "gpt-5"])]
    audit = await _audit(runtime, "pool.fallbacks.")
    assert [(a, label) for a, label, _ in audit] == [
        ("pool.fallbacks.set", "claude-opus-4-8"),
        ("pool.fallbacks.set", "claude-opus-4-8 (group Platform)"),
        ("pool.fallbacks.clear", "claude-opus-4-8 (group Platform)"),
    ]
    assert audit[0][2]["chain"] == ["claude-sonnet-4-5", "gpt-5"]
    assert audit[2][2] is None


async def test_bad_fallback_input_is_a_message_and_nothing_is_written(
    browser: BrowserFactory, runtime: Runtime
) -> None:
    admin = await browser(role="admin")
    for form, sentence in [
        ({"model": "claude-opus-4-8", "chain": "claude-opus-4-8"}, "cannot fall back to itself"),
        ({"model": "claude-opus-4-8", "chain": "gpt-5, gpt-5"}, "names each model once"),
        ({"model": "claude-opus-4-8", "chain": "gpt-*"}, "is not a model name"),
        ({"model": "claude-opus-4-8", "chain": ""}, "The chain was not set"),
        ({"model": "claude-opus-4-8", "chain": "a,b,c,d,e,f"}, "The chain was not set"),
        ({"model": "claude-opus-4-8", "chain": "gpt-5", "group": "Nope"}, "Nope"),
    ]:
        response = await admin.post_form(
            "/console/fallbacks", form, referer="/console/fallbacks", follow_redirects=True
        )
        assert response.status_code == 200, (form, response.text)
        assert str(response.url).endswith("/console/fallbacks")
        assert sentence in html.unescape(response.text), form
    missing = await admin.post_form(
        "/console/fallbacks/clear",
        {"model": "gpt-5"},
        referer="/console/fallbacks",
        follow_redirects=True,
    )
    assert "gpt-5 has no fallback chain." in missing.text
    assert await _chains(runtime) == []
    assert await _audit(runtime, "pool.fallbacks.") == []


async def test_an_auditor_reads_fallbacks_but_cannot_change_them(
    browser: BrowserFactory, runtime: Runtime
) -> None:
    auditor = await browser(role="auditor")
    page = await auditor.get("/console/fallbacks")
    assert page.status_code == 200
    assert 'id="set-fallbacks-form"' not in page.text
    refused = await auditor.post_form(
        "/console/fallbacks",
        {"model": "claude-opus-4-8", "chain": "gpt-5"},
        referer="/console/fallbacks",
        follow_redirects=True,
    )
    assert "manage the account pool" in refused.text
    assert await _chains(runtime) == []


async def test_an_admin_creates_a_scim_token_shown_once_that_works_at_scim(
    browser: BrowserFactory, runtime: Runtime
) -> None:
    admin = await browser(role="admin")
    page = await admin.get("/console/me/tokens")
    assert 'id="create-scim-token-form"' in page.text
    created = await admin.post_form("/console/me/tokens/scim", {"name": "Okta directory"})
    assert created.status_code == 200, created.text
    found = re.search(r'id="new-token-secret">([^<]+)<', created.text)
    assert found, created.text
    secret = found.group(1)
    assert "Okta directory" in created.text
    assert "<td>scim</td>" in created.text

    again = await admin.get("/console/me/tokens")
    assert secret not in again.text
    assert 'id="new-token-secret"' not in again.text
    async with session_scope(runtime.db) as session:
        stored = (await session.execute(select(AdminToken.scope, AdminToken.name))).all()
    assert [tuple(row) for row in stored] == [("scim", "Okta directory")]
    audit = await _audit(runtime, "tokens.create")
    assert len(audit) == 1
    assert secret not in str(audit)

    bearer = {"authorization": f"Bearer {secret}"}
    config = await admin.client.get("/scim/v2/ServiceProviderConfig", headers=bearer)
    assert config.status_code == 200, config.text
    assert config.json()["patch"]["supported"] is True
    refused = await admin.client.get("/api/users", headers=bearer)
    assert refused.status_code == 401


async def test_a_member_reaches_neither_page(browser: BrowserFactory, runtime: Runtime) -> None:
    member = await browser(role="member")
    assert (await member.get("/console/fallbacks")).status_code == 403
    tokens = await member.get("/console/me/tokens")
    assert tokens.status_code == 200
    assert "create-scim-token-form" not in tokens.text
    for url, form in [
        ("/console/me/tokens/scim", {"name": "sneaky"}),
        ("/console/fallbacks", {"model": "claude-opus-4-8", "chain": "gpt-5"}),
        ("/console/fallbacks/clear", {"model": "claude-opus-4-8"}),
    ]:
        response = await member.post_form(url, form, referer="/console/me/tokens")
        assert response.status_code == 303, (url, response.text)
        assert response.headers["location"] == "/console/me/tokens"
        assert "new-token-secret" not in response.text
    async with session_scope(runtime.db) as session:
        tokens_made = await session.scalar(select(func.count()).select_from(AdminToken))
    assert tokens_made == 0
    assert await _chains(runtime) == []
