"""The users list's package and balance filters (server-side, paginated), the user page's ledger
(wallet and allowance activity, paginated) and the member's own usage chart."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from tests.factories import make_user

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate
from spectra.runtime import Runtime
from spectra.users.models import PasswordSetupLink


async def _charge(session: Any, user_id: uuid.UUID, amount: str) -> None:
    """Usage charged to the wallet, as settlement does (it may take a wallet below zero)."""
    wallet = await ledger_service.wallet_account(session, user_id=user_id)
    expense = await ledger_service.get_or_create_account(session, kind="usage_expense")
    micros = parse_amount(amount)
    await ledger_service.post(
        session,
        local_actor(),
        kind="usage",
        postings=[(wallet.id, -micros), (expense.id, micros)],
        idempotency_key=f"test-usage:{uuid.uuid4()}",
    )


async def _credit(session: Any, user_id: uuid.UUID, amount: str) -> None:
    await ledger_service.adjust(
        session,
        local_actor(),
        user_id=user_id,
        amount=parse_amount(amount, allow_negative=True),
        reason="test",
        idempotency_key=f"test:{uuid.uuid4()}",
    )


async def _seed(runtime: Runtime) -> dict[str, uuid.UUID]:
    """rich (10.00), broke (-2.00), fresh (no wallet yet), holder (holds Starter)."""
    async with session_scope(runtime.db) as session:
        ids = {}
        for name in ("rich", "broke", "fresh", "holder"):
            ids[name] = (await make_user(session, email=f"{name}@acme.test")).id
        await _credit(session, ids["rich"], "10")
        await _charge(session, ids["broke"], "2")
        await packages_service.create_package(
            session,
            local_actor(),
            data=PackageCreate.model_validate(
                {"name": "Starter", "allowance": "20", "period": "monthly"}
            ),
        )
        await packages_service.assign_package(
            session, local_actor(), package="Starter", user_id=ids["holder"], reason="test"
        )
    return ids


def _emails(html: str) -> set[str]:
    return {name for name in ("rich", "broke", "fresh", "holder") if f">{name}@acme.test<" in html}


class TestUserFilters:
    async def test_by_balance(self, browser: Any, runtime: Runtime) -> None:
        await _seed(runtime)
        b = await browser(role="auditor")
        base = "/console/users?q=acme.test"
        assert _emails((await b.get(f"{base}&balance=negative")).text) == {"broke"}
        assert _emails((await b.get(f"{base}&balance=zero")).text) == {"fresh", "holder"}
        below = await b.get(f"{base}&balance=below&below=5")
        assert _emails(below.text) == {"broke", "fresh", "holder"}
        assert _emails((await b.get(f"{base}&below=-1")).text) == {"broke"}
        assert _emails((await b.get(base)).text) == {"rich", "broke", "fresh", "holder"}

    async def test_by_package(self, browser: Any, runtime: Runtime) -> None:
        await _seed(runtime)
        b = await browser(role="admin")
        page = await b.get("/console/users?q=acme.test&package=Starter")
        assert _emails(page.text) == {"holder"}
        both = await b.get("/console/users?package=Starter&balance=negative")
        assert _emails(both.text) == set()

    async def test_a_bad_amount_is_shown_next_to_the_field(
        self, browser: Any, runtime: Runtime
    ) -> None:
        b = await browser(role="admin")
        page = await b.get("/console/users?balance=below&below=lots")
        assert page.status_code == 200
        assert 'id="e-below"' in page.text

    async def test_filters_stay_on_the_next_page(self, browser: Any, runtime: Runtime) -> None:
        async with session_scope(runtime.db) as session:
            for n in range(55):
                await make_user(session, email=f"m{n:02d}@many.test")
        b = await browser(role="admin")
        first = await b.get("/console/users?q=many.test&balance=zero")
        assert first.text.count("@many.test<") == 50
        assert 'rel="next"' in first.text
        href = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
        assert "balance=zero" in href
        second = await b.get("/console/users" + href.replace("&amp;", "&"))
        assert second.text.count("@many.test<") == 5


class TestUserLedger:
    async def test_shows_wallet_and_allowance_activity(
        self, browser: Any, runtime: Runtime
    ) -> None:
        ids = await _seed(runtime)
        async with session_scope(runtime.db) as session:
            await _credit(session, ids["holder"], "3")
        b = await browser(role="auditor")
        page = await b.get(f"/console/users/{ids['holder']}")
        assert page.status_code == 200, page.text
        table = page.text.split('id="user-transactions"')[1].split("</table>")[0]
        assert table.count("data-transaction-id") == 2  # the allowance grant and the credit
        assert "$20.00" in table
        assert "$3.00" in table

    async def test_is_paginated(self, browser: Any, runtime: Runtime) -> None:
        async with session_scope(runtime.db) as session:
            user = await make_user(session)
            for _ in range(23):
                await _credit(session, user.id, "1")
        b = await browser(role="admin")
        page = await b.get(f"/console/users/{user.id}")
        assert page.text.count("data-transaction-id") == 20
        href = page.text.split('id="ledger-next"')[0].rsplit('href="', 1)[1].split('"')[0]
        older = await b.get(f"/console/users/{user.id}" + href.replace("&amp;", "&"))
        assert older.text.count("data-transaction-id") == 3


async def test_the_member_sees_their_own_usage_chart(browser: Any, runtime: Runtime) -> None:
    b = await browser(role="member")
    page = await b.get("/console/me")
    assert page.status_code == 200, page.text
    assert 'data-chart="my-usage-chart"' in page.text
    assert 'id="my-usage-chart"' in page.text
    assert "/console/static/vendor/chart-4.6.1.umd.min.js" in page.text


class TestActionsFollowRank:
    async def test_an_admin_sees_no_credential_or_status_actions_on_another_admin(
        self, runtime: Runtime, browser: Any
    ) -> None:
        admin = await browser(role="admin")
        async with session_scope(runtime.db) as session:
            peer = await make_user(session, email="peer@acme.test", role="admin")
            member = await make_user(session, email="member@acme.test")
        on_peer = (await admin.get(f"/console/users/{peer.id}")).text
        on_member = (await admin.get(f"/console/users/{member.id}")).text
        for action in ('id="setup-link-user"', 'id="suspend-user"', 'id="edit-user-form"'):
            assert action in on_member
            assert action not in on_peer
        refused = await admin.post_form(f"/console/users/{peer.id}/setup-link")
        assert "token=" not in refused.text
        async with session_scope(runtime.db) as session:
            links = await session.execute(
                select(PasswordSetupLink).where(PasswordSetupLink.user_id == peer.id)
            )
            assert links.first() is None
