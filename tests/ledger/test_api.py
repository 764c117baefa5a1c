"""REST: recharges with an Idempotency-Key header, exact amounts, approvals, and a redemption
code racing 50 times through HTTP (separate connections that commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from tests.factories import make_group, make_user

from spectra.audit.actor import Actor, local_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.ledger import service as ledger_service
from spectra.runtime import Runtime

from .factories import admin, member

ADMIN = admin()


async def _user(runtime: Runtime) -> tuple[str, object]:
    async with session_scope(runtime.db) as s:
        user = await make_user(s)
        return user.email, user.id


class TestRechargeApi:
    async def test_the_header_key_makes_a_retry_credit_once(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        email, _ = await _user(runtime)
        act_as(ADMIN)
        body = {"user_email": email, "amount": "12.50", "memo": "pilot"}
        for _ in range(2):
            answer = await client.post(
                "/api/ledger/recharges", json=body, headers={"Idempotency-Key": "once"}
            )
            assert answer.status_code == 201, answer.text
        data = answer.json()
        assert data["status"] == "credited"
        assert data["account"]["balance"] == "12.50"
        assert data["account"]["balance_micros"] == 12_500_000
        listed = (await client.get("/api/ledger/transactions", params={"kind": "recharge"})).json()
        assert len(listed["items"]) == 1
        assert listed["items"][0]["postings"][1]["amount"] == "12.50"

    async def test_more_than_six_decimals_is_a_422(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        email, _ = await _user(runtime)
        act_as(ADMIN)
        answer = await client.post(
            "/api/ledger/recharges", json={"user_email": email, "amount": "1.0000001", "memo": "m"}
        )
        assert answer.status_code == 422

    async def test_four_eyes_over_http(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        async with session_scope(runtime.db) as s:
            group = await make_group(s)
            from spectra.audit.actor import local_actor
            from spectra.workspace import service as workspace_service

            await workspace_service.set_setting(
                s, local_actor(), name="four_eyes_threshold", value="250"
            )
        act_as(ADMIN)
        answer = await client.post(
            "/api/ledger/recharges",
            json={"group_id": str(group.id), "amount": "500", "memo": "runway"},
        )
        assert answer.json()["status"] == "pending_approval"
        approval_id = answer.json()["approval_id"]
        refused = await client.post(f"/api/ledger/approvals/{approval_id}/approve")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "four_eyes_required"
        act_as(admin("second@example.com", role="billing"))
        clicks = await asyncio.gather(
            *(client.post(f"/api/ledger/approvals/{approval_id}/approve") for _ in range(2))
        )
        assert [c.status_code for c in clicks] == [200, 200]
        balance = (
            await client.get("/api/ledger/balance", params={"group_id": str(group.id)})
        ).json()
        assert balance["balance"] == "500.00"


class TestRedeemRace:
    async def test_fifty_racing_redemptions_credit_once(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        _, user_id = await _user(runtime)
        act_as(admin(role="billing"))
        created = await client.post(
            "/api/codes/batches", json={"count": 1, "amount": "25", "memo": "race"}
        )
        assert created.status_code == 201
        code = created.json()["codes"][0]
        act_as(member(user_id))  # type: ignore[arg-type]
        answers = await asyncio.gather(
            *(client.post("/api/codes/redeem", json={"code": code}) for _ in range(50))
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(200) == 1, statuses
        assert statuses.count(409) == 49, statuses
        async with session_scope(runtime.db) as s:
            wallet = await ledger_service.wallet_account(s, user_id=user_id)  # type: ignore[arg-type]
            assert wallet.balance_micros == 25_000_000
            assert (await ledger_service.verify(s, ADMIN)).ok
        act_as(ADMIN)
        batches = (await client.get("/api/codes/batches")).json()["items"]
        assert (batches[0]["redeemed"], batches[0]["unused"]) == (1, 0)

    async def test_guessing_gets_a_429_with_retry_after(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        _, user_id = await _user(runtime)
        act_as(member(user_id))  # type: ignore[arg-type]
        for _ in range(10):
            assert (
                await client.post("/api/codes/redeem", json={"code": "SPC-XXXX"})
            ).status_code == 404
        limited = await client.post("/api/codes/redeem", json={"code": "SPC-XXXX"})
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) > 0

    async def test_codes_can_be_exported_as_csv_once(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        answer = await client.post(
            "/api/codes/batches", params={"format": "csv"}, json={"count": 2, "amount": "1"}
        )
        assert answer.status_code == 201
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.text.splitlines()[0] == "code,value,expires_at,batch_id"
        assert answer.text.count("SPC-") == 2

    async def test_a_retried_batch_request_issues_once(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        body = {"count": 3, "amount": "2"}
        headers = {"Idempotency-Key": "batch-retry-1"}
        first = await client.post("/api/codes/batches", json=body, headers=headers)
        assert first.status_code == 201, first.text
        retry = await client.post("/api/codes/batches", json=body, headers=headers)
        assert retry.status_code == 409
        assert retry.json()["error"]["code"] == "codes_already_issued"
        assert retry.json()["error"]["details"]["batch_id"] == first.json()["id"]
        other = await client.post(
            "/api/codes/batches", json={"count": 4, "amount": "2"}, headers=headers
        )
        assert other.json()["error"]["code"] == "idempotency_conflict"
        batches = (await client.get("/api/codes/batches")).json()["items"]
        assert [b["id"] for b in batches] == [first.json()["id"]]
        async with session_scope(runtime.db) as session:
            assert (await ledger_service.verify(session, local_actor())).ok


async def test_a_member_cannot_probe_which_emails_exist(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """An unknown email answers like a known one the member may not read: 403 both times."""
    async with session_scope(runtime.db) as session:
        member = await make_user(session, role="member")
        other = await make_user(session, role="member")
        _, secret = await keys_service.create_key(session, local_actor(), user_id=member.id)
    headers = {"authorization": f"Bearer {secret}"}
    known = await client.get(
        "/api/ledger/balance", params={"user_email": other.email}, headers=headers
    )
    unknown = await client.get(
        "/api/ledger/balance", params={"user_email": "nobody-here@example.com"}, headers=headers
    )
    assert known.status_code == unknown.status_code == 403
