"""The member portal: keys (secret once, snippets), balance, redeem, recharge request, usage,
refusals with their explanation, explain, pool status, API tokens."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import select

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys.models import MemberKey
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.ledger.models import RechargeRequest
from spectra.runtime import Runtime

from .factories import make_usage


def _secret(html: str) -> str:
    found = re.search(r'id="new-key-secret">([^<]+)<', html)
    assert found
    return found.group(1)


class TestKeys:
    async def test_create_shows_the_secret_once_with_snippets(
        self, browser: Any, runtime: Runtime
    ) -> None:
        b = await browser(role="member")
        response = await b.post_form("/console/me/keys", {"name": "laptop"})
        assert response.status_code == 200
        secret = _secret(response.text)
        base = runtime.settings.public_base()
        text = html.unescape(response.text)
        assert f'ANTHROPIC_BASE_URL="{base}"' in text
        assert f'ANTHROPIC_API_KEY="{secret}"' in text
        assert 'wire_api = "responses"' in text
        assert 'env_key = "SPECTRA_API_KEY"' in text
        assert f'base_url="{base}/v1"' in text
        listing = await b.get("/console/me/keys")
        assert "laptop" in listing.text
        assert secret not in listing.text
        async with session_scope(runtime.db) as session:
            key = (await session.execute(select(MemberKey))).scalar_one()
        assert key.user_id == b.user.id
        assert key.status == "active"

    async def test_a_bad_scope_is_shown_next_to_the_field(self, browser: Any) -> None:
        b = await browser(role="member")
        response = await b.post_form(
            "/console/me/keys", {"name": "x", "ip_allowlist": "not-a-network"}
        )
        assert response.status_code == 200
        assert 'id="e-ip_allowlist"' in response.text

    async def test_rotate_shows_a_new_secret_and_revoke_stops_the_key(
        self, browser: Any, runtime: Runtime
    ) -> None:
        b = await browser(role="member")
        first = _secret((await b.post_form("/console/me/keys", {"name": "ci"})).text)
        async with session_scope(runtime.db) as session:
            key = (await session.execute(select(MemberKey))).scalar_one()
        rotated = await b.post_form(f"/console/me/keys/{key.id}/rotate")
        assert rotated.status_code == 200
        second = _secret(rotated.text)
        assert second != first
        async with session_scope(runtime.db) as session:
            new = (
                await session.execute(select(MemberKey).where(MemberKey.rotated_from_id == key.id))
            ).scalar_one()
        revoked = await b.post_form(f"/console/me/keys/{new.id}/revoke")
        assert revoked.status_code == 303
        async with session_scope(runtime.db) as session:
            assert (await session.get(MemberKey, new.id)).status == "revoked"  # type: ignore[union-attr]

    async def test_cannot_revoke_someone_elses_key(self, browser: Any, runtime: Runtime) -> None:
        owner = await browser(role="member")
        await owner.post_form("/console/me/keys", {"name": "mine"})
        async with session_scope(runtime.db) as session:
            key = (await session.execute(select(MemberKey))).scalar_one()
        other = await browser(role="member")
        response = await other.post_form(f"/console/me/keys/{key.id}/revoke")
        assert response.status_code == 303
        assert "flash" in response.headers.get("set-cookie", "")
        async with session_scope(runtime.db) as session:
            assert (await session.get(MemberKey, key.id)).status == "active"  # type: ignore[union-attr]

    async def test_revoke_refused_without_csrf(self, browser: Any, runtime: Runtime) -> None:
        b = await browser(role="member")
        await b.post_form("/console/me/keys", {"name": "mine"})
        async with session_scope(runtime.db) as session:
            key = (await session.execute(select(MemberKey))).scalar_one()
        response = await b.post_form(f"/console/me/keys/{key.id}/revoke", csrf=False)
        assert response.status_code == 403


class TestWallet:
    async def test_redeem_a_code_credits_the_wallet(self, browser: Any, runtime: Runtime) -> None:
        b = await browser(role="member")
        async with session_scope(runtime.db) as session:
            created = await ledger_service.create_codes(
                session, local_actor(), count=1, amount=parse_amount("15")
            )
        response = await b.post_form("/console/me/redeem", {"code": created.codes[0]})
        assert response.status_code == 303
        page = await b.get("/console/me/wallet")
        assert 'id="wallet-balance">$15.00<' in page.text
        assert "added $15.00" in page.text
        again = await b.post_form("/console/me/redeem", {"code": created.codes[0]})
        assert again.status_code == 303
        flash = await b.get("/console/me/wallet")
        assert 'id="wallet-balance">$15.00<' in flash.text
        assert 'class="flash error"' in flash.text

    async def test_request_a_recharge(self, browser: Any, runtime: Runtime) -> None:
        b = await browser(role="member")
        response = await b.post_form(
            "/console/me/recharge-request", {"amount": "25.00", "reason": "running low"}
        )
        assert response.status_code == 303
        async with session_scope(runtime.db) as session:
            request = (await session.execute(select(RechargeRequest))).scalar_one()
        assert request.amount_micros == 25_000_000
        assert request.user_id == b.user.id
        page = await b.get("/console/me/wallet")
        assert "running low" in page.text


class TestUsageAndRefusals:
    async def test_refusals_show_the_explanation(self, browser: Any, runtime: Runtime) -> None:
        b = await browser(role="member")
        other = await browser(role="member")
        async with session_scope(runtime.db) as session:
            await make_usage(
                session,
                user_id=b.user.id,
                model_requested="claude-opus-4-8",
                status="refused",
                refusal_reason="model_not_in_package",
                refusal_rule="package:Starter",
            )
            await make_usage(session, user_id=other.user.id, model_requested="gpt-secret-model")
        home = await b.get("/console/me")
        assert "the member&#39;s packages do not include this model" in home.text
        page = await b.get("/console/me/refusals")
        assert "claude-opus-4-8" in page.text
        assert "package:Starter" in page.text
        usage = await b.get("/console/me/usage")
        assert "gpt-secret-model" not in usage.text

    async def test_explain_my_access(self, browser: Any) -> None:
        b = await browser(role="member")
        page = await b.get("/console/me/explain?model=claude-opus-4-8")
        assert page.status_code == 200
        assert 'id="decision-message"' in page.text

    async def test_pool_status_is_redacted(self, browser: Any) -> None:
        b = await browser(role="member")
        page = await b.get("/console/me")
        assert 'id="pool-status"' in page.text


class TestTokens:
    async def test_create_shows_the_token_once(self, browser: Any) -> None:
        b = await browser(role="admin")
        response = await b.post_form("/console/me/tokens", {"name": "cli", "read_only": "on"})
        found = re.search(r'id="new-token-secret">([^<]+)<', response.text)
        assert found
        listing = await b.get("/console/me/tokens")
        assert "cli" in listing.text
        assert found.group(1) not in listing.text
