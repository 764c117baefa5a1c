"""Admin forms change state through the services: pool, users, recharges (idempotent double
submit, four eyes), package bulk preview; CSRF and roles are enforced."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.ledger import service as ledger_service
from spectra.ledger.models import CodeBatch, LedgerTransaction, RechargeApproval
from spectra.pool.models import PoolAccount
from spectra.runtime import Runtime
from spectra.users.models import User


class TestPool:
    async def test_add_an_account_never_shows_the_key(self, browser: Any, runtime: Runtime) -> None:
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/pool",
            {
                "provider": "anthropic",
                "name": "anthropic-a",
                "api_key": "sk-ant-secret-value-1234",
                "models": "claude-*",
            },
        )
        assert response.status_code == 303, response.text
        page = await b.get(response.headers["location"])
        assert "anthropic-a" in page.text
        assert "…1234" in page.text
        assert "sk-ant-secret-value" not in page.text
        async with session_scope(runtime.db) as session:
            assert (await session.execute(select(PoolAccount))).scalar_one().name == "anthropic-a"

    async def test_a_member_cannot_add_an_account(self, browser: Any, runtime: Runtime) -> None:
        b = await browser(role="member")
        response = await b.post_form(
            "/console/pool", {"provider": "openai", "name": "x", "api_key": "k", "models": "gpt-*"}
        )
        assert response.status_code == 303
        page = await b.get(response.headers["location"], follow_redirects=True)
        assert "cannot see other members" in page.text
        async with session_scope(runtime.db) as session:
            assert (await session.execute(select(func.count(PoolAccount.id)))).scalar_one() == 0

    async def test_refused_without_csrf(self, browser: Any, runtime: Runtime) -> None:
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/pool",
            {"provider": "openai", "name": "x", "api_key": "k", "models": "gpt-*"},
            csrf=False,
        )
        assert response.status_code == 403
        async with session_scope(runtime.db) as session:
            assert (await session.execute(select(func.count(PoolAccount.id)))).scalar_one() == 0


class TestUsers:
    async def test_invite_shows_the_setup_link_once_and_audits(
        self, browser: Any, runtime: Runtime
    ) -> None:
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/users", {"email": "priya@example.com", "name": "Priya", "invite": "on"}
        )
        assert response.status_code == 200
        assert re.search(r"/console/setup\?token=[\w-]+", response.text)
        async with session_scope(runtime.db) as session:
            user = (
                await session.execute(select(User).where(User.email == "priya@example.com"))
            ).scalar_one()
            actions = (
                (
                    await session.execute(
                        select(AuditEvent.action).where(AuditEvent.target_id == str(user.id))
                    )
                )
                .scalars()
                .all()
            )
        assert user.status == "invited"
        assert "users.invite" in actions or "users.create" in actions
        page = await b.get(f"/console/users/{user.id}")
        assert "/console/setup?token=" not in page.text

    async def test_suspend_then_the_error_sentence_for_the_last_owner(
        self, browser: Any, runtime: Runtime
    ) -> None:
        owner = await browser(role="owner")
        member = await browser(role="member")
        response = await owner.post_form(
            f"/console/users/{member.user.id}/suspend", {"reason": "left"}
        )
        assert response.status_code == 303
        async with session_scope(runtime.db) as session:
            assert (await session.get(User, member.user.id)).status == "suspended"  # type: ignore[union-attr]
        refused = await owner.post_form(
            f"/console/users/{owner.user.id}/role",
            {"role": "member"},
            referer=f"/console/users/{owner.user.id}",
        )
        assert refused.status_code == 303
        assert refused.headers["location"] == f"/console/users/{owner.user.id}"
        page = await owner.get(refused.headers["location"])
        assert 'class="flash error"' in page.text


class TestRecharges:
    async def test_confirm_then_a_double_submit_credits_once(
        self, browser: Any, runtime: Runtime
    ) -> None:
        b = await browser(role="admin")
        member = await browser(role="member")
        confirm = await b.post_form(
            "/console/recharges/confirm",
            {"user": member.user.email, "amount": "25", "memo": "pilot"},
        )
        assert confirm.status_code == 200
        key = re.search(r'name="idempotency_key" value="([^"]+)"', confirm.text)
        assert key
        data = {
            "user": member.user.email,
            "amount": "25",
            "memo": "pilot",
            "idempotency_key": key.group(1),
        }
        first = await b.post_form("/console/recharges", data)
        second = await b.post_form("/console/recharges", data)
        assert first.status_code == second.status_code == 303
        async with session_scope(runtime.db) as session:
            wallet = await ledger_service.wallet_account(session, user_id=member.user.id)
            assert await ledger_service.balance(session, wallet.id) == 25_000_000
            count = (
                await session.execute(
                    select(func.count(LedgerTransaction.id)).where(
                        LedgerTransaction.kind == "recharge"
                    )
                )
            ).scalar_one()
        assert count == 1

    async def test_the_confirm_page_says_what_confirming_will_do(self, browser: Any) -> None:
        owner = await browser(role="owner")
        member = await browser(role="member")

        async def outcome(amount: str) -> str:
            page = await owner.post_form(
                "/console/recharges/confirm",
                {"user": member.user.email, "amount": amount, "memo": "pilot"},
            )
            assert page.status_code == 200, page.text
            found = re.search(
                r'<p id="recharge-outcome"[^>]*data-waits="(\w+)">(.*?)</p>', page.text
            )
            assert found, page.text
            return f"{found.group(1)}: {re.sub('<[^>]+>', '', found.group(2))}"

        unset = await outcome("5000")
        await owner.post_form("/console/settings/four_eyes_threshold", {"value": "100"})
        below, at, over = await outcome("40"), await outcome("100"), await outcome("100.01")

        assert (
            unset == "no: No four-eyes threshold is set: it is credited at once when you confirm."
        )
        assert (
            below
            == "no: This is within the four-eyes threshold ($100.00): it is credited at once when you confirm."
        )
        assert at == below  # "above" the threshold is what waits, as the recharge itself decides
        assert over == (
            "yes: This is above the four-eyes threshold ($100.00): a second admin must approve "
            "it before it is credited."
        )

    async def test_a_bad_amount_is_shown_next_to_the_field(self, browser: Any) -> None:
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/recharges/confirm", {"user": b.user.email, "amount": "1.2345678", "memo": "x"}
        )
        assert response.status_code == 200
        assert 'id="e-amount"' in response.text

    async def test_four_eyes_a_second_admin_approves_once(
        self, browser: Any, runtime: Runtime
    ) -> None:
        first = await browser(role="owner")
        second = await browser(role="admin")
        await first.post_form("/console/settings/four_eyes_threshold", {"value": "1000"})
        data = {"group": "default", "amount": "100000", "memo": "big", "idempotency_key": "k-1"}
        await first.post_form("/console/recharges", data)
        async with session_scope(runtime.db) as session:
            approval = (await session.execute(select(RechargeApproval))).scalar_one()
        assert approval.status == "pending"
        own = await first.post_form(f"/console/approvals/{approval.id}/approve")
        assert own.status_code == 303
        async with session_scope(runtime.db) as session:
            assert (await session.get(RechargeApproval, approval.id)).status == "pending"  # type: ignore[union-attr]
        page = await second.get("/console/recharges")
        assert str(approval.id) in page.text
        await second.post_form(f"/console/approvals/{approval.id}/approve")
        await second.post_form(f"/console/approvals/{approval.id}/approve")
        async with session_scope(runtime.db) as session:
            assert (await session.get(RechargeApproval, approval.id)).status == "approved"  # type: ignore[union-attr]
            count = (
                await session.execute(
                    select(func.count(LedgerTransaction.id)).where(
                        LedgerTransaction.kind == "recharge"
                    )
                )
            ).scalar_one()
        assert count == 1

    async def test_codes_download_once_as_csv(self, browser: Any) -> None:
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/codes", {"count": "3", "amount": "5", "memo": "event"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.text.strip().splitlines()
        assert len(lines) == 4
        code = lines[1].split(",")[0]
        page = await b.get("/console/codes")
        assert "event" in page.text
        assert code not in page.text

    async def test_a_double_submitted_codes_form_creates_one_batch(
        self, browser: Any, runtime: Runtime
    ) -> None:
        b = await browser(role="admin")
        form = {"count": "2", "amount": "5", "memo": "twice", "idempotency_key": "form-1"}
        first = await b.post_form("/console/codes", form)
        assert first.headers["content-type"].startswith("text/csv")
        second = await b.post_form("/console/codes", form)
        assert second.status_code == 303
        shown = await b.get(second.headers["location"])
        assert "already created a batch" in shown.text
        async with session_scope(runtime.db) as session:
            count = (
                await session.execute(select(func.count()).select_from(CodeBatch))
            ).scalar_one()
        assert count == 1
