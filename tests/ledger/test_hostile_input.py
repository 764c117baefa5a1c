"""Hostile input on the ledger's REST surface: money strings that only look like amounts, a
foreign currency, amounts and balances beyond int64, two wallets at once, and reads that must
not write (concurrent reads of a wallet that does not exist yet, on real connections)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select, text
from tests.factories import make_group, make_user

from spectra.audit.actor import Actor
from spectra.db.session import session_scope
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.ledger.models import LedgerAccount
from spectra.runtime import Runtime

from .factories import admin

ADMIN = admin()
MAX_AMOUNT_MICROS = 10**15
"""The documented bounds (docs/money.md), written out so the test does not trust the code."""
MAX_BALANCE_MICROS = 2**62


async def _email(runtime: Runtime) -> str:
    async with session_scope(runtime.db) as s:
        return (await make_user(s)).email


class TestMoneyStrings:
    @pytest.mark.parametrize(
        "amount",
        ["1e3", "+5.00", " 5.00", "5.00 ", "５", "5.", ".5", "0x10", "1_000", "5.00\n", 1000, 5.5],
    )
    async def test_anything_but_the_pattern_is_a_422(
        self,
        runtime: Runtime,
        client: httpx.AsyncClient,
        act_as: Callable[[Actor], None],
        amount: object,
    ) -> None:
        email = await _email(runtime)
        act_as(ADMIN)
        answer = await client.post(
            "/api/ledger/adjustments",
            json={"user_email": email, "amount": amount, "reason": "probe"},
        )
        assert answer.status_code == 422, answer.text
        balance = await client.get("/api/ledger/balance", params={"user_email": email})
        assert balance.json()["balance_micros"] == 0

    def test_the_parser_takes_the_pattern_exactly(self) -> None:
        assert parse_amount("12.50") == 12_500_000
        assert parse_amount("-0.000001", allow_negative=True) == -1
        for bad in ("1e3", "+5", " 5", "٥", "5.0000001", "NaN", "Infinity"):
            with pytest.raises(Exception, match=r"decimal|decimals"):
                parse_amount(bad)

    async def test_a_foreign_currency_is_refused_not_converted(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        email = await _email(runtime)
        act_as(ADMIN)
        refused = await client.post(
            "/api/ledger/recharges",
            json={"user_email": email, "amount": "5.00", "currency": "EUR", "memo": "m"},
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "currency_mismatch"
        same = await client.post(
            "/api/ledger/recharges",
            json={"user_email": email, "amount": "5.00", "currency": "USD", "memo": "m"},
        )
        assert same.status_code == 201, same.text
        assert same.json()["account"]["balance"] == "5.00"


class TestBounds:
    async def test_maximal_adjustments_stop_at_the_balance_bound(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        email = await _email(runtime)
        act_as(ADMIN)
        too_big = await client.post(
            "/api/ledger/adjustments",
            json={"user_email": email, "amount": "999999999999.00", "reason": "r"},
        )
        assert too_big.status_code == 422
        assert too_big.json()["error"]["code"] == "amount_out_of_range"
        biggest = f"{MAX_AMOUNT_MICROS // 1_000_000}.00"
        codes = []
        for _ in range(10):
            answer = await client.post(
                "/api/ledger/adjustments",
                json={"user_email": email, "amount": biggest, "reason": "r"},
            )
            codes.append(answer.status_code)
        assert codes == [201] * 10
        balance = await client.get("/api/ledger/balance", params={"user_email": email})
        assert balance.status_code == 200
        assert balance.json()["balance_micros"] == 10 * MAX_AMOUNT_MICROS
        verify = await client.get("/api/ledger/verify")
        assert verify.json()["ok"] is True

    async def test_a_posting_beyond_the_balance_bound_is_refused(self, runtime: Runtime) -> None:
        from spectra.ledger.models import AccountKind
        from spectra.ledger.models import TransactionKind as K

        from .factories import SYSTEM_TEST

        async with session_scope(runtime.db) as s:
            a = await ledger_service.get_or_create_account(s, kind=AccountKind.FUNDING)
            b = await ledger_service.get_or_create_account(s, kind=AccountKind.ADJUSTMENTS)
            await ledger_service.post(
                s,
                SYSTEM_TEST,
                kind=K.GRANT,
                postings=[(a.id, -(MAX_BALANCE_MICROS - 1)), (b.id, MAX_BALANCE_MICROS - 1)],
                idempotency_key="near",
            )
        with pytest.raises(Exception, match="beyond") as caught:
            async with session_scope(runtime.db) as s:
                await ledger_service.post(
                    s,
                    SYSTEM_TEST,
                    kind=K.GRANT,
                    postings=[(a.id, -2), (b.id, 2)],
                    idempotency_key="over",
                )
        assert getattr(caught.value, "code", None) == "balance_out_of_range"

    async def test_a_code_batch_may_not_multiply_past_the_bound(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        biggest = f"{MAX_AMOUNT_MICROS // 1_000_000}.00"
        answer = await client.post(
            "/api/codes/batches", json={"count": 10_000, "amount": biggest, "memo": "m"}
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "amount_out_of_range"

    async def test_verify_reports_an_out_of_range_balance_instead_of_crashing(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        email = await _email(runtime)
        act_as(ADMIN)
        await client.post(
            "/api/ledger/adjustments", json={"user_email": email, "amount": "5.00", "reason": "r"}
        )
        async with session_scope(runtime.db) as s:
            await s.execute(
                text("UPDATE ledger_accounts SET balance_micros = :big WHERE kind = 'user_wallet'"),
                {"big": 2**63 - 1},
            )
        verify = await client.get("/api/ledger/verify")
        assert verify.status_code == 200, verify.text
        report = verify.json()
        assert report["ok"] is False
        assert [p["check"] for p in report["problems"]] == ["range"]


class TestWalletReads:
    async def test_two_wallets_in_one_balance_read_is_a_422(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        async with session_scope(runtime.db) as s:
            user = await make_user(s)
            group = await make_group(s)
        act_as(ADMIN)
        answer = await client.get(
            "/api/ledger/balance", params={"user_id": str(user.id), "group_id": str(group.id)}
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "wallet_ref_invalid"

    async def test_concurrent_reads_of_an_absent_wallet_write_nothing(
        self, runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        async with session_scope(runtime.db) as s:
            user = await make_user(s)
        email = user.email
        act_as(ADMIN)

        async def read(i: int) -> httpx.Response:
            if i % 2:
                return await client.get("/api/ledger/balance", params={"user_email": email})
            return await client.get("/api/ledger/transactions", params={"user_id": str(user.id)})

        answers = await asyncio.gather(*(read(i) for i in range(40)))
        assert [a.status_code for a in answers] == [200] * 40
        ids = {a.json()["id"] for a in answers if "balance" in a.json()}
        assert len(ids) == 1
        assert all(a.json().get("balance_micros", 0) == 0 for a in answers)
        async with session_scope(runtime.db) as s:
            wallets = select(func.count()).where(LedgerAccount.owner_id == user.id)
            assert (await s.execute(wallets)).scalar() == 0
        recharged = await client.post(
            "/api/ledger/recharges", json={"user_email": email, "amount": "1.00", "memo": "m"}
        )
        assert recharged.json()["account"]["id"] == ids.pop()
