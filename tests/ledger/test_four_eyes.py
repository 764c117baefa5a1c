"""The one four-eyes rule over HTTP: money created or moved toward the actor waits for a second,
independent approver; splitting is caught by the rolling window; an approver whose password
someone else set is not independent; idempotency keys are scoped to the actor who sent them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from tests.factories import make_user

from spectra.audit.actor import Actor, local_actor, user_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.ledger.models import LedgerAccount
from spectra.runtime import Runtime
from spectra.users import service as users_service
from spectra.workspace import service as workspace_service


async def _admin(runtime: Runtime, role: str = "admin") -> Actor:
    async with session_scope(runtime.db) as s:
        user = await make_user(s, role=role)
    return user_actor(user_id=user.id, email=user.email, role=role, via="session")


async def _member(runtime: Runtime) -> str:
    async with session_scope(runtime.db) as s:
        return (await make_user(s)).email


async def _setting(runtime: Runtime, name: str, value: str) -> None:
    async with session_scope(runtime.db) as s:
        await workspace_service.set_setting(s, local_actor(), name=name, value=value)


async def _balance(client: httpx.AsyncClient, email: str) -> str:
    answer = await client.get("/api/ledger/balance", params={"user_email": email})
    assert answer.status_code == 200, answer.text
    balance: str = answer.json()["balance"]
    return balance


class TestMoneyTowardTheActor:
    async def test_an_admin_crediting_their_own_wallet_waits_for_a_second_approver(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        me = await _admin(runtime)
        act_as(me)
        answer = await client.post(
            "/api/ledger/adjustments",
            json={"user_email": me.label, "amount": "999999999.00", "reason": "mine"},
        )
        assert answer.status_code == 202, answer.text
        pending = answer.json()
        assert pending["status"] == "pending_approval"
        assert pending["operation"] == "adjust"
        assert pending["reason"] == "own_wallet"
        assert await _balance(client, me.label) == "0.00"
        refused = await client.post(f"/api/ledger/approvals/{pending['approval_id']}/approve")
        assert refused.status_code == 403
        second = await _admin(runtime, role="billing")
        act_as(second)
        approved = await client.post(f"/api/ledger/approvals/{pending['approval_id']}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["decided_by_credential"] == "self"
        assert await _balance(client, me.label) == "999999999.00"
        async with session_scope(runtime.db) as s:
            event = (
                await s.execute(
                    select(AuditEvent).where(AuditEvent.action == "ledger.adjust.approve")
                )
            ).scalar_one()
        assert event.details is not None
        assert event.details["requested_by"] == me.label
        assert event.details["approved_by"] == second.label
        assert event.details["approver_provenance"] == "self"

    async def test_a_transfer_from_a_member_to_the_actor_waits(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        me = await _admin(runtime)
        victim = await _member(runtime)
        act_as(me)
        await _setting(runtime, "four_eyes_self_threshold", "0")
        funded = await client.post(
            "/api/ledger/recharges", json={"user_email": victim, "amount": "300", "memo": "m"}
        )
        assert funded.status_code == 201
        moved = await client.post(
            "/api/ledger/transfers",
            json={
                "source": {"user_email": victim},
                "target": {"user_email": me.label},
                "amount": "300",
                "memo": "mine now",
            },
        )
        assert moved.status_code == 202, moved.text
        assert moved.json()["reason"] == "own_wallet"
        assert await _balance(client, victim) == "300.00"
        assert await _balance(client, me.label) == "0.00"

    async def test_a_recharge_split_under_the_threshold_is_caught(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        await _setting(runtime, "four_eyes_threshold", "250")
        me = await _admin(runtime)
        member = await _member(runtime)
        act_as(me)
        statuses = []
        for _ in range(3):
            answer = await client.post(
                "/api/ledger/recharges",
                json={"user_email": member, "amount": "99.99", "memo": "split"},
            )
            statuses.append(answer.json()["status"])
        assert statuses == ["credited", "credited", "pending_approval"]
        assert await _balance(client, member) == "199.98"
        approvals = (await client.get("/api/ledger/approvals")).json()["items"]
        assert [a["reason"] for a in approvals] == ["split"]

    async def test_max_recharge_caps_an_adjustment_credit_too(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        await _setting(runtime, "max_recharge", "100")
        act_as(await _admin(runtime))
        answer = await client.post(
            "/api/ledger/adjustments",
            json={"user_email": await _member(runtime), "amount": "500", "reason": "r"},
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "recharge_limit_exceeded"


class TestIndependentApprover:
    async def _pending(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> tuple[Actor, str]:
        await _setting(runtime, "four_eyes_threshold", "10")
        requester = await _admin(runtime, role="owner")
        act_as(requester)
        answer = await client.post(
            "/api/ledger/recharges",
            json={"user_email": await _member(runtime), "amount": "50", "memo": "m"},
        )
        assert answer.json()["status"] == "pending_approval"
        return requester, str(answer.json()["approval_id"])

    async def _puppet(self, runtime: Runtime, requester: Actor, *, role: str) -> Actor:
        """A user of `role` whose password the requester set."""
        puppet = await _admin(runtime, role=role)
        assert puppet.user_id is not None
        async with session_scope(runtime.db) as s:
            await users_service.set_password(
                s, requester, user=puppet.user_id, password="Correct-Horse-42!"
            )
        return puppet

    async def test_a_password_set_by_the_requester_does_not_make_an_approver(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        requester, approval_id = await self._pending(runtime, client, act_as)
        puppet = await self._puppet(runtime, requester, role="billing")
        act_as(puppet)
        refused = await client.post(f"/api/ledger/approvals/{approval_id}/approve")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "approver_not_independent"
        async with session_scope(runtime.db) as s:
            await users_service.change_password(
                s,
                puppet,
                current_password="Correct-Horse-42!",
                new_password="Mine-Alone-Now-77!",
            )
        # Whoever set the password knows it, so "changing it yourself" may be the requester
        # laundering it: the account is never independent of the one who issued its password.
        still = await client.post(f"/api/ledger/approvals/{approval_id}/approve")
        assert still.status_code == 403, still.text
        assert still.json()["error"]["code"] == "approver_not_independent"
        act_as(await _admin(runtime, role="billing"))
        approved = await client.post(f"/api/ledger/approvals/{approval_id}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"

    async def test_a_puppet_setting_its_own_password_again_is_still_not_independent(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        requester, approval_id = await self._pending(runtime, client, act_as)
        puppet = await self._puppet(runtime, requester, role="admin")
        act_as(puppet)
        again = await client.post(
            f"/api/users/{puppet.label}/password", json={"password": "Mine-Alone-Now-77!"}
        )
        assert again.status_code in (200, 204), again.text
        refused = await client.post(f"/api/ledger/approvals/{approval_id}/approve")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "approver_not_independent"

    async def test_a_setup_link_issued_by_another_user_does_not_make_an_approver(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        requester, approval_id = await self._pending(runtime, client, act_as)
        async with session_scope(runtime.db) as s:
            issued = await users_service.invite_user(
                s, requester, email="puppet@example.com", role="billing"
            )
        async with session_scope(runtime.db) as s:
            user = await users_service.consume_setup_link(
                s, token=issued.token, password="Correct-Horse-42!"
            )
            assert users_service.credential_provenance(user) == f"issued:{requester.label}"
        act_as(user_actor(user_id=user.id, email=user.email, role="billing", via="session"))
        refused = await client.post(f"/api/ledger/approvals/{approval_id}/approve")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "approver_not_independent"


class TestIdempotencyKeysPerActor:
    async def _adjust(self, client: httpx.AsyncClient, email: str, key: str) -> dict[str, Any]:
        answer = await client.post(
            "/api/ledger/adjustments",
            json={"user_email": email, "amount": "5.00", "reason": "r"},
            headers={"Idempotency-Key": key},
        )
        assert answer.status_code == 201, answer.text
        data: dict[str, Any] = answer.json()
        return data

    async def test_two_actors_with_one_key_get_two_transactions(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        member = await _member(runtime)
        first, second = await _admin(runtime), await _admin(runtime)
        act_as(first)
        one = await self._adjust(client, member, "shared")
        again = await self._adjust(client, member, "shared")
        act_as(second)
        other = await self._adjust(client, member, "shared")
        assert again["id"] == one["id"]
        assert other["id"] != one["id"]
        assert other["actor_label"] == second.label
        assert await _balance(client, member) == "10.00"

    async def test_another_actors_key_does_not_replay_a_recharge(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        member = await _member(runtime)
        body = {"user_email": member, "amount": "7.00", "memo": "m", "idempotency_key": "k"}
        act_as(await _admin(runtime))
        first = await client.post("/api/ledger/recharges", json=body)
        act_as(await _admin(runtime))
        second = await client.post("/api/ledger/recharges", json=body)
        assert first.json()["transaction"]["id"] != second.json()["transaction"]["id"]
        async with session_scope(runtime.db) as s:
            wallet = (
                await s.execute(select(LedgerAccount).where(LedgerAccount.kind == "user_wallet"))
            ).scalar_one()
        assert wallet.balance_micros == 14_000_000


class TestCodeBatches:
    async def test_a_batch_above_the_threshold_is_refused_and_moves_nothing(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        await _setting(runtime, "four_eyes_threshold", "250")
        act_as(await _admin(runtime))
        small = await client.post("/api/codes/batches", json={"count": 2, "amount": "100"})
        assert small.status_code == 201, small.text
        split = await client.post("/api/codes/batches", json={"count": 1, "amount": "100"})
        assert split.status_code == 403
        assert split.json()["error"]["code"] == "four_eyes_required"
        listed = (await client.get("/api/codes/batches")).json()["items"]
        assert [b["count"] for b in listed] == [2]

    async def test_the_creator_of_a_code_cannot_redeem_it_into_their_own_wallet(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        # A batch under every threshold, redeemed by whoever issued it, is a recharge of their
        # own wallet with no second approver; someone else may redeem it.
        me = await _admin(runtime, role="billing")
        act_as(me)
        issued = await client.post("/api/codes/batches", json={"count": 2, "amount": "50"})
        assert issued.status_code == 201, issued.text
        first, second = issued.json()["codes"]
        refused = await client.post("/api/codes/redeem", json={"code": first})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "four_eyes_required"
        assert await _balance(client, me.label) == "0.00"
        other = await _admin(runtime, role="member")
        act_as(other)
        redeemed = await client.post("/api/codes/redeem", json={"code": first})
        assert redeemed.status_code == 200, redeemed.text
        act_as(me)
        assert await _balance(client, other.label) == "50.00"
        await _setting(runtime, "four_eyes_self_threshold", "none")
        allowed = await client.post("/api/codes/redeem", json={"code": second})
        assert allowed.status_code == 200, allowed.text


class TestPackagesTowardTheActor:
    async def test_an_admin_cannot_give_themselves_a_package_allowance(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        # A package with any allowance, assigned to oneself, is money toward the actor: its first
        # period is granted at once and spends like a recharge. Another admin may assign it.
        me = await _admin(runtime)
        act_as(me)
        created = await client.post(
            "/api/packages",
            json={"name": "Mine", "allowance": "999999.00", "period": "monthly"},
        )
        assert created.status_code == 201, created.text
        refused = await client.post("/api/packages/Mine/assignments", json={"email": me.label})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "four_eyes_required"
        bulk = await client.post("/api/packages/Mine/assignments/bulk", json={"emails": [me.label]})
        assert bulk.status_code == 403, bulk.text
        held = await client.get("/api/package-assignments", params={"user": me.label})
        assert held.json()["items"] == []
        act_as(await _admin(runtime))
        given = await client.post("/api/packages/Mine/assignments", json={"email": me.label})
        assert given.status_code == 201, given.text

    async def test_an_admin_cannot_migrate_their_own_assignment_to_a_larger_allowance(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        me = await _admin(runtime)
        act_as(me)
        created = await client.post(
            "/api/packages", json={"name": "Small", "allowance": "0", "period": "monthly"}
        )
        assert created.status_code == 201, created.text
        assigned = await client.post("/api/packages/Small/assignments", json={"email": me.label})
        assert assigned.status_code == 201, assigned.text
        grown = await client.patch("/api/packages/Small", json={"allowance": "999999.00"})
        assert grown.status_code == 200, grown.text
        moved = await client.post("/api/packages/Small/migrate", json={})
        assert moved.status_code == 403, moved.text
        assert moved.json()["error"]["code"] == "four_eyes_required"
        held = (await client.get("/api/package-assignments", params={"user": me.label})).json()
        assert [a["version"] for a in held["items"]] == [1]

    async def test_an_admin_cannot_join_a_group_whose_default_package_they_set(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        # The default is applied by `system` when a user joins, so setting it and then joining
        # was a package allowance given to oneself with nobody asked.
        me = await _admin(runtime)
        act_as(me)
        made = await client.post("/api/groups", json={"name": "Rich"})
        assert made.status_code == 201, made.text
        created = await client.post(
            "/api/packages", json={"name": "Gold", "allowance": "999999.00", "period": "monthly"}
        )
        assert created.status_code == 201, created.text
        default = await client.put("/api/groups/Rich/default-package", json={"package": "Gold"})
        assert default.status_code == 200, default.text
        moved = await client.post(f"/api/users/{me.label}/group", json={"group": "Rich"})
        assert moved.status_code == 403, moved.text
        assert moved.json()["error"]["code"] == "four_eyes_required"
        held = await client.get("/api/package-assignments", params={"user": me.label})
        assert held.json()["items"] == []
        member = await _member(runtime)
        joined = await client.post(f"/api/users/{member}/group", json={"group": "Rich"})
        assert joined.status_code == 200, joined.text
        theirs = await client.get("/api/package-assignments", params={"user": member})
        assert [a["package_name"] for a in theirs.json()["items"]] == ["Gold"]
