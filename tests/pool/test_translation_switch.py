"""The per-account translation switch: the scheduler honours it for callers of another
protocol only, the service audits it, and the API shows and sets it."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.fakes.upstream import FakeUpstream

from spectra.audit.actor import Actor
from spectra.db.serverkey import ServerKeys
from spectra.db.session import Session
from spectra.pool import service as pool_service
from spectra.pool.errors import ModelNotServedError, NoAccountAvailableError
from spectra.pool.models import PoolAccount, PoolAlert
from spectra.pool.scheduler import TRANSLATION_OFF, Scheduler
from spectra.pool.schemas import AccountRead, AccountUpdate
from spectra.pool.state import PoolState
from spectra.pool.states import AccountState, StateSnapshot

from .conftest import FAKE_KEY
from .factories import make_account
from .helpers import last_audit

pytestmark = pytest.mark.usefixtures("server_keys", "clock")


class Pool:
    def __init__(self, session: Session, admin: Actor, keys: ServerKeys) -> None:
        self.session, self.admin = session, admin
        self.state = PoolState(keys)
        self.scheduler = Scheduler(self.state, rng=random.Random(3))

    async def add(self, **overrides: Any) -> PoolAccount:
        account = await make_account(self.session, self.admin, **overrides)
        self.state.merge_row(account)
        return account


@pytest.fixture
def pool(session: Session, admin: Actor, server_keys: ServerKeys) -> Pool:
    return Pool(session, admin, server_keys)


class TestScheduler:
    async def test_skips_a_non_translating_account_for_another_protocols_caller(
        self, pool: Pool, session: Session
    ) -> None:
        await pool.add(provider="anthropic", models=["claude-*"], translate=False)
        with pytest.raises(ModelNotServedError) as caught:
            pool.scheduler.select("openai_chat", "claude-sonnet-4-5", None, None)
        assert caught.value.code == "model_not_served"
        assert "do not take translated traffic" in str(caught.value)
        # Its models are not offered to a caller who cannot reach them.
        assert caught.value.details["served"] == []
        await pool.state.drain(session)
        assert (await session.execute(select(PoolAlert))).scalars().all() == []

    async def test_a_translating_account_serves_instead(self, pool: Pool) -> None:
        await pool.add(provider="anthropic", models=["claude-*"], translate=False, priority=0)
        open_one = await pool.add(provider="anthropic", models=["claude-*"], priority=5)
        for _ in range(5):
            chosen = pool.scheduler.select("openai_chat", "claude-sonnet-4-5", None, None)
            assert (chosen.account_id, chosen.translated) == (open_one.id, True)
            assert [s.reason for s in chosen.trace] == [TRANSLATION_OFF]
            pool.scheduler.release(chosen)

    async def test_the_switch_does_not_touch_its_own_protocols_callers(self, pool: Pool) -> None:
        account = await pool.add(provider="anthropic", models=["claude-*"], translate=False)
        chosen = pool.scheduler.select("anthropic_messages", "claude-sonnet-4-5", None, None)
        assert (chosen.account_id, chosen.translated) == (account.id, False)

    async def test_capacity_on_the_callers_side_is_still_no_account_available(
        self, pool: Pool
    ) -> None:
        own = await pool.add(provider="openai", models=["claude-*"])
        off = await pool.add(provider="anthropic", models=["claude-*"], translate=False)
        pool.state.accounts[own.id].snapshot = StateSnapshot(
            state=AccountState.NEEDS_ATTENTION, reason="auth failed (401)"
        )
        with pytest.raises(NoAccountAvailableError) as caught:
            pool.scheduler.select("openai_chat", "claude-sonnet-4-5", None, None)
        assert caught.value.details["skipped"] == [
            {"account": own.name, "reason": "needs attention (auth failed (401))"},
            {"account": off.name, "reason": TRANSLATION_OFF},
        ]

    async def test_a_refresh_carries_the_switch(self, pool: Pool, admin: Actor) -> None:
        account = await pool.add(provider="anthropic", models=["claude-*"])
        assert pool.scheduler.select("openai_chat", "claude-x", None, None).translated
        await pool_service.update_account(
            pool.session, admin, account_id=account.id, data=AccountUpdate(translate=False)
        )
        pool.state.merge_row(account)
        with pytest.raises(ModelNotServedError):
            pool.scheduler.select("openai_chat", "claude-x", None, None)


class TestService:
    async def test_new_accounts_take_translated_traffic_by_default(
        self, session: Session, admin: Actor
    ) -> None:
        account = await make_account(session, admin)
        assert account.is_translation_allowed is True
        assert AccountRead.model_validate(account).translate is True
        after = (await last_audit(session)).after
        assert after is not None
        assert after["is_translation_allowed"] is True

    async def test_turning_it_off_is_audited_before_and_after(
        self, session: Session, admin: Actor
    ) -> None:
        account = await make_account(session, admin)
        await pool_service.update_account(
            session, admin, account_id=account.id, data=AccountUpdate(translate=False)
        )
        assert account.is_translation_allowed is False
        event = await last_audit(session)
        assert event.action == "pool.account_updated"
        assert (event.before, event.after) == (
            {"is_translation_allowed": True},
            {"is_translation_allowed": False},
        )

    async def test_other_edits_leave_it_alone(self, session: Session, admin: Actor) -> None:
        account = await make_account(session, admin, translate=False)
        await pool_service.update_account(
            session, admin, account_id=account.id, data=AccountUpdate(weight=7)
        )
        assert account.is_translation_allowed is False


async def test_api_shows_and_sets_the_switch(
    client: httpx.AsyncClient, act_as: Callable[[Actor], None], admin: Actor, fake: FakeUpstream
) -> None:
    act_as(admin)
    body = {
        "name": "Closed",
        "provider": "anthropic",
        "base_url": fake.url,
        "api_key": FAKE_KEY,
        "models": ["claude-*"],
        "translate": False,
    }
    created = await client.post("/api/pool/accounts", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["translate"] is False
    path = f"/api/pool/accounts/{created.json()['id']}"
    listed = (await client.get("/api/pool/accounts")).json()["items"]
    assert [(a["name"], a["translate"]) for a in listed] == [("Closed", False)]
    edited = await client.patch(path, json={"translate": True})
    assert edited.json()["translate"] is True
    assert (await client.get(path)).json()["translate"] is True
    refused = await client.patch(path, json={"translate": "sometimes"})
    assert refused.status_code == 422
    schema = (await client.get("/api/openapi.json")).json()["components"]["schemas"]
    assert "translate" in schema["AccountUpdate"]["properties"]
    assert "translate" in schema["AccountCreate"]["properties"]
    read = [v for k, v in schema.items() if k.endswith("pool__schemas__AccountRead")]
    assert read
    assert "translate" in read[0]["properties"]
