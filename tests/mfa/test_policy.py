"""The workspace's second-factor policy for admin roles, the admin's reset (API and CLI,
audited), and step-up re-authentication before sensitive console actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from tests.console.conftest import PASSWORD, Browser

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.pool import service as pool_service
from spectra.pool.schemas import AccountCreate
from spectra.runtime import Runtime
from spectra.users.mfa.models import RecoveryCode, TotpFactor
from spectra.workspace import service as workspace_service

from .helpers import code_at, enrol_totp

OpenBrowser = Callable[..., Awaitable[Browser]]


async def _set(runtime: Runtime, name: str, value: str) -> None:
    async with session_scope(runtime.db) as session:
        await workspace_service.set_setting(session, local_actor(), name=name, value=value)


class TestRequiredForAdmins:
    async def test_an_admin_without_a_factor_is_sent_to_enrolment_until_enrolled(
        self, runtime: Runtime, browser: OpenBrowser, clock: Any
    ) -> None:
        await _set(runtime, "mfa_required_for_admins", "on")
        admin = await browser(role="admin")
        page = await admin.get("/console/users")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/account/mfa"
        posted = await admin.post_form("/console/groups", {"name": "blocked"})
        assert posted.status_code == 303
        assert posted.headers["location"] == "/console/account/mfa"
        enrol_page = await admin.get("/console/account/mfa")
        assert "requires a second factor" in enrol_page.text
        await enrol_totp(admin)
        assert (await admin.get("/console/users")).status_code == 200

    async def test_members_and_the_setting_off_are_not_affected(
        self, runtime: Runtime, browser: OpenBrowser, clock: Any
    ) -> None:
        admin = await browser(role="admin")
        assert (await admin.get("/console/users")).status_code == 200
        await _set(runtime, "mfa_required_for_admins", "on")
        member = await browser(role="member")
        assert (await member.get("/console/me")).status_code == 200

    async def test_api_tokens_are_not_affected(
        self, runtime: Runtime, browser: OpenBrowser, client: httpx.AsyncClient, clock: Any
    ) -> None:
        admin = await browser(role="admin")
        made = await admin.post_form("/console/me/tokens", {"name": "cli"})
        assert made.status_code == 200
        secret = made.text.split('id="new-token-secret"')[1].split(">")[1].split("<")[0].strip()
        await _set(runtime, "mfa_required_for_admins", "on")
        answer = await client.get("/api/users", headers={"authorization": f"Bearer {secret}"})
        assert answer.status_code == 200


class TestReset:
    async def test_an_admin_resets_a_members_factors_through_the_api(
        self,
        runtime: Runtime,
        app: Any,
        browser: OpenBrowser,
        client: httpx.AsyncClient,
        act_as: Callable[[Any], None],
        clock: Any,
    ) -> None:
        member = await browser(role="member")
        await enrol_totp(member)
        act_as(local_actor())
        answer = await client.post(f"/api/users/{member.user.email}/mfa/reset")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "email": member.user.email,
            "totp": 1,
            "passkeys": 0,
            "recovery_codes": 10,
        }
        async with session_scope(runtime.db) as session:
            assert (await session.execute(select(TotpFactor))).first() is None
            assert (await session.execute(select(RecoveryCode))).first() is None
            event = (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "users.mfa_reset")
                )
            ).scalar_one()
        assert event.target_label == member.user.email
        assert (event.details or {})["removed"]["totp"] == 1
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://spectra.test") as c:
            signed = await c.post(
                "/console/login", data={"email": member.user.email, "password": PASSWORD}
            )
            assert signed.headers["location"] == "/console/me"

    async def test_a_member_cannot_reset_anyone(
        self, browser: OpenBrowser, client: httpx.AsyncClient, clock: Any
    ) -> None:
        member = await browser(role="member")
        other = await browser(role="member")
        made = await member.post_form("/console/me/tokens", {"name": "cli"})
        secret = made.text.split('id="new-token-secret"')[1].split(">")[1].split("<")[0].strip()
        answer = await client.post(
            f"/api/users/{other.user.email}/mfa/reset",
            headers={"authorization": f"Bearer {secret}"},
        )
        assert answer.status_code == 403
        assert answer.json()["error"]["code"]

    async def test_an_unknown_user_is_a_404(
        self, client: httpx.AsyncClient, act_as: Callable[[Any], None]
    ) -> None:
        act_as(local_actor())
        answer = await client.post("/api/users/nobody@example.com/mfa/reset")
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "user_not_found"


class TestStepUp:
    async def test_creating_a_token_after_the_window_needs_the_password_again(
        self, runtime: Runtime, browser: OpenBrowser, clock: Any
    ) -> None:
        me = await browser(role="member")
        clock_module.advance(timedelta(minutes=16))
        refused = await me.post_form(
            "/console/me/tokens", {"name": "late"}, referer="/console/me/tokens"
        )
        assert refused.status_code == 403
        assert "Confirm it is you" in refused.text
        assert 'id="step-up-required"' in refused.text
        assert "/console/reauth?next=/console/me/tokens" in refused.text
        wrong = await me.post_form(
            "/console/reauth", {"password": "not it at all", "next": "/console/me/tokens"}
        )
        assert "The password is wrong." in wrong.text
        confirmed = await me.post_form(
            "/console/reauth", {"password": PASSWORD, "next": "/console/me/tokens"}
        )
        assert confirmed.status_code == 303
        assert confirmed.headers["location"] == "/console/me/tokens"
        made = await me.post_form("/console/me/tokens", {"name": "late"})
        assert made.status_code == 200
        assert 'id="new-token-secret"' in made.text
        async with session_scope(runtime.db) as session:
            actions = (await session.execute(select(AuditEvent.action))).scalars().all()
        assert "auth.step_up" in actions

    async def test_with_an_app_enrolled_step_up_takes_the_code(
        self, runtime: Runtime, browser: OpenBrowser, clock: Any
    ) -> None:
        await _set(runtime, "step_up_minutes", "5")
        admin = await browser(role="admin")
        seed, _ = await enrol_totp(admin)
        clock_module.advance(timedelta(minutes=6))
        refused = await admin.post_form(
            "/console/approvals/0190e0e0-0000-7000-8000-000000000000/approve"
        )
        assert refused.status_code == 403
        page = await admin.get("/console/reauth?next=/console/recharges")
        assert 'name="code"' in page.text
        assert 'name="password"' not in page.text
        confirmed = await admin.post_form(
            "/console/reauth", {"code": code_at(seed), "next": "/console/recharges"}
        )
        assert confirmed.status_code == 303
        after = await admin.post_form(
            "/console/approvals/0190e0e0-0000-7000-8000-000000000000/approve"
        )
        assert after.status_code == 303  # past step-up: the service's own answer (no approval)

    async def test_a_recent_sign_in_needs_no_step_up(
        self, browser: OpenBrowser, clock: Any
    ) -> None:
        me = await browser(role="member")
        clock_module.advance(timedelta(minutes=10))
        made = await me.post_form("/console/me/tokens", {"name": "soon"})
        assert made.status_code == 200


async def test_an_admin_resets_factors_from_the_user_page(
    runtime: Runtime, browser: OpenBrowser, clock: Any
) -> None:
    member = await browser(role="member")
    await enrol_totp(member)
    admin = await browser(role="admin")
    page = await admin.get(f"/console/users/{member.user.id}")
    assert 'id="reset-mfa-user"' in page.text
    done = await admin.post_form(f"/console/users/{member.user.id}/mfa-reset")
    assert done.status_code == 303
    async with session_scope(runtime.db) as session:
        assert (await session.execute(select(TotpFactor))).first() is None
        actors = (
            (
                await session.execute(
                    select(AuditEvent.actor_label).where(AuditEvent.action == "users.mfa_reset")
                )
            )
            .scalars()
            .all()
        )
    assert actors == [admin.user.email]


class TestStepUpForMoney:
    async def test_a_recharge_above_the_approval_threshold_needs_a_recent_sign_in(
        self, runtime: Runtime, browser: OpenBrowser, clock: Any
    ) -> None:
        await _set(runtime, "four_eyes_threshold", "100")
        admin = await browser(role="owner")
        member = await browser(role="member")
        clock_module.advance(timedelta(minutes=20))
        small = {"user": member.user.email, "amount": "25", "memo": "small"}
        assert (await admin.post_form("/console/recharges", small)).status_code == 303
        big = {"user": member.user.email, "amount": "500", "memo": "big"}
        refused = await admin.post_form("/console/recharges", big, referer="/console/recharges")
        assert refused.status_code == 403
        assert 'id="step-up-required"' in refused.text
        await admin.post_form("/console/reauth", {"password": PASSWORD, "next": "/"})
        assert (await admin.post_form("/console/recharges", big)).status_code == 303
        async with session_scope(runtime.db) as session:
            memos = (
                (
                    await session.execute(
                        select(AuditEvent.action).where(AuditEvent.action == "auth.step_up")
                    )
                )
                .scalars()
                .all()
            )
        assert memos == ["auth.step_up"]


async def test_rotating_an_upstream_credential_needs_a_recent_sign_in(
    runtime: Runtime, browser: OpenBrowser, clock: Any
) -> None:
    async with session_scope(runtime.db) as session:
        account = await pool_service.add_account(
            session,
            local_actor(),
            data=AccountCreate.model_validate(
                {
                    "name": "main",
                    "provider": "openai",
                    "base_url": "http://127.0.0.1:9",
                    "api_key": "sk-step-up-old-credential-0001",
                    "models": ["gpt-4o"],
                }
            ),
        )
        account_id = account.id
    admin = await browser(role="admin")
    clock_module.advance(timedelta(minutes=20))
    url = f"/console/pool/{account_id}/credential"
    new_key = {"api_key": "sk-step-up-new-credential-0002"}
    refused = await admin.post_form(url, new_key, referer=f"/console/pool/{account_id}")
    assert refused.status_code == 403
    assert 'id="step-up-required"' in refused.text
    await admin.post_form("/console/reauth", {"password": PASSWORD, "next": "/console/pool"})
    assert (await admin.post_form(url, new_key)).status_code == 303
    async with session_scope(runtime.db) as session:
        rotations = (
            (
                await session.execute(
                    select(AuditEvent.action).where(AuditEvent.action.like("pool.%credential%"))
                )
            )
            .scalars()
            .all()
        )
    assert len(rotations) == 1
