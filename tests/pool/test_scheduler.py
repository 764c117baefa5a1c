"""The scheduler and the state machine driven by real requests to the fake upstream, one
typed error each: 429 with Retry-After, 529, 401, 500, connection reset, timeout, a cut stream."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from tests.factories import make_group
from tests.fakes.upstream import Fail, FakeUpstream, Hang, Reply, Reset

from spectra.audit.actor import Actor
from spectra.db.serverkey import ServerKeys
from spectra.db.session import Session
from spectra.kit import clock as clock_module
from spectra.pool.errors import ModelNotServedError, NoAccountAvailableError
from spectra.pool.models import PoolAccount, PoolAccountTransition, PoolAlert
from spectra.pool.scheduler import Scheduler, Selection, Succeeded
from spectra.pool.state import PoolState
from spectra.pool.states import AccountState
from spectra.providers import anthropic, openai
from spectra.providers.client import Timeouts, UpstreamClient
from spectra.providers.errors import UpstreamFailure

from .factories import make_account

pytestmark = pytest.mark.usefixtures("server_keys", "clock")


@pytest_asyncio.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    async with UpstreamClient() as upstream:
        yield upstream


class Pool:
    """An in-memory pool over accounts made in the test session."""

    def __init__(self, session: Session, admin: Actor, keys: ServerKeys) -> None:
        self.session = session
        self.admin = admin
        self.state = PoolState(keys)
        self.scheduler = Scheduler(self.state, rng=random.Random(7))

    async def add(self, **overrides: Any) -> PoolAccount:
        account = await make_account(self.session, self.admin, **overrides)
        self.state.merge_row(account)
        return account

    def state_of(self, account: PoolAccount) -> AccountState:
        return self.state.accounts[account.id].snapshot.state


@pytest.fixture
def pool(session: Session, admin: Actor, server_keys: ServerKeys) -> Pool:
    return Pool(session, admin, server_keys)


async def send(
    client: UpstreamClient,
    selection: Selection,
    *,
    stream: bool = False,
    timeouts: Timeouts | None = None,
) -> Succeeded:
    """What the gateway does with a selection: one upstream request, fully read."""
    body = {
        "model": selection.upstream_model,
        "max_tokens": 5,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    caller = [("content-type", "application/json")]
    if selection.provider == "anthropic":
        headers, path = (
            anthropic.upstream_headers(caller, api_key=selection.credential.reveal()),
            "/v1/messages",
        )
    else:
        headers, path = (
            openai.upstream_headers(caller, api_key=selection.credential.reveal()),
            "/v1/chat/completions",
        )
    response = await client.send(
        "POST",
        selection.url(path),
        headers=headers,
        body=json.dumps(body).encode(),
        timeouts=timeouts,
    )
    async with response:
        await response.raise_for_failure(selection.provider)
        await response.read()
    return Succeeded(
        latency_ms=12.0, ttfb_ms=5.0, input_tokens=10, output_tokens=4, cost_micros=1_000
    )


async def attempt(
    pool: Pool,
    client: UpstreamClient,
    *,
    model: str = "claude-sonnet-4-5",
    protocol: str = "anthropic_messages",
    exclude: frozenset[uuid.UUID] = frozenset(),
    **kwargs: Any,
) -> tuple[Selection, UpstreamFailure | None]:
    selection = pool.scheduler.select(protocol, model, None, None, exclude=exclude)
    try:
        outcome: Succeeded | UpstreamFailure = await send(client, selection, **kwargs)
    except UpstreamFailure as failure:
        outcome = failure
    finally:
        pool.scheduler.release(selection)
    pool.scheduler.report(selection, outcome)
    return selection, outcome if isinstance(outcome, UpstreamFailure) else None


class TestFailuresFromTheFakeUpstream:
    async def test_429_with_retry_after_cools_until_then_and_fails_over(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream, clock: datetime
    ) -> None:
        first = await pool.add(name="first", base_url=fake.url, priority=0)
        second = await pool.add(name="second", base_url=fake.url, priority=1)
        fake.script(Fail("rate_limited", retry_after="30"))
        selection, failure = await attempt(pool, client)
        assert selection.account_id == first.id
        assert failure is not None
        assert failure.type.value == "rate_limited"
        assert failure.retryable_elsewhere
        snap = pool.state.accounts[first.id].snapshot
        assert snap.state is AccountState.COOLING
        assert snap.cooling_until == clock + timedelta(seconds=30)
        assert "Retry-After 30s" in snap.reason
        retry, failure = await attempt(pool, client, exclude=frozenset({selection.account_id}))
        assert failure is None
        assert retry.account_id == second.id
        assert [s.reason for s in retry.trace] == ["already tried for this request"]
        again = pool.scheduler.select("anthropic_messages", "claude-sonnet-4-5", None, None)
        assert again.account_id == second.id
        assert again.trace[0].reason.startswith("cooling until 10:00:30 UTC")

    async def test_cooling_ends_on_time(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream
    ) -> None:
        account = await pool.add(base_url=fake.url)
        fake.script(Fail("rate_limited", retry_after="30"))
        await attempt(pool, client)
        with pytest.raises(NoAccountAvailableError):
            pool.scheduler.select("anthropic_messages", "claude-sonnet-4-5", None, None)
        clock_module.advance(timedelta(seconds=30))
        selection = pool.scheduler.select("anthropic_messages", "claude-sonnet-4-5", None, None)
        assert selection.account_id == account.id
        assert pool.state_of(account) is AccountState.ACTIVE

    async def test_529_overloaded_cools_briefly(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream
    ) -> None:
        account = await pool.add(base_url=fake.url)
        fake.script(Fail("overloaded"))
        _, failure = await attempt(pool, client)
        assert failure is not None
        assert failure.status == 529
        assert failure.type.value == "overloaded"
        assert pool.state_of(account) is AccountState.COOLING
        assert "backoff 2s" in pool.state.accounts[account.id].snapshot.reason

    async def test_401_needs_attention_and_alerts(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream, session: Session
    ) -> None:
        account = await pool.add(base_url=fake.url)
        fake.script(Fail("auth_failed"))
        _, failure = await attempt(pool, client)
        assert failure is not None
        assert failure.type.value == "auth_failed"
        assert pool.state_of(account) is AccountState.NEEDS_ATTENTION
        await pool.state.drain(session)
        await session.refresh(account)
        assert account.state == "needs_attention"
        assert account.state_reason == "auth failed (401)"
        alert = (await session.execute(select(PoolAlert))).scalar_one()
        assert alert.kind == "account_needs_attention"
        assert alert.subject == account.name

    async def test_three_500s_make_failing(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream
    ) -> None:
        account = await pool.add(base_url=fake.url)
        fake.script(Fail("server_error"), Fail("server_error"), Fail("server_error"))
        for _ in range(2):
            _, failure = await attempt(pool, client)
            assert failure is not None
            assert failure.type.value == "server_error"
            assert pool.state_of(account) is AccountState.ACTIVE
        await attempt(pool, client)
        assert pool.state_of(account) is AccountState.FAILING
        assert pool.state.accounts[account.id].figures.failures_today == 3

    async def test_connection_resets_count_as_connect_errors(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream
    ) -> None:
        account = await pool.add(base_url=fake.url)
        fake.script(Reset(), Reset(), Reset())
        for _ in range(3):
            _, failure = await attempt(pool, client)
            assert failure is not None
            assert failure.type.value == "connect_error"
            assert failure.retryable_elsewhere
        assert pool.state_of(account) is AccountState.FAILING

    async def test_timeouts_count_toward_failing(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream
    ) -> None:
        account = await pool.add(base_url=fake.url)
        fake.script(Hang(5.0), Hang(5.0), Hang(5.0))
        short = Timeouts(connect=1.0, first_byte=0.2, idle=0.2)
        for _ in range(3):
            _, failure = await attempt(pool, client, timeouts=short)
            assert failure is not None
            assert failure.type.value == "timeout"
        assert pool.state_of(account) is AccountState.FAILING

    async def test_a_stream_cut_in_the_middle_is_stream_broken(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream
    ) -> None:
        account = await pool.add(base_url=fake.url)
        fake.script(*(Reply(cut_after=2, pieces=4, text="hello world") for _ in range(3)))
        for _ in range(3):
            _, failure = await attempt(pool, client, stream=True)
            assert failure is not None
            assert failure.type.value == "stream_broken"
            assert not failure.retryable_elsewhere
        assert pool.state_of(account) is AccountState.FAILING

    async def test_success_feeds_figures(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream
    ) -> None:
        account = await pool.add(base_url=fake.url)
        _, failure = await attempt(pool, client)
        assert failure is None
        figures = pool.state.accounts[account.id].figures
        assert (figures.requests_today, figures.successes_today, figures.in_flight) == (1, 1, 0)
        assert figures.cost_today_micros == 1_000
        assert figures.latency_p50_ms == 12.0

    async def test_hot_path_transitions_are_persisted_with_reason(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream, session: Session
    ) -> None:
        account = await pool.add(base_url=fake.url)
        fake.script(Fail("rate_limited", retry_after="30"))
        await attempt(pool, client)
        assert await pool.state.drain(session) >= 1
        await session.refresh(account)
        assert account.state == "cooling"
        row = (await session.execute(select(PoolAccountTransition))).scalar_one()
        assert (row.from_state, row.to_state, row.failure_type, row.actor_label) == (
            "active",
            "cooling",
            "rate_limited",
            "gateway",
        )
        assert "Retry-After 30s" in row.reason


class TestSelection:
    async def test_lowest_priority_tier_wins(self, pool: Pool) -> None:
        low = await pool.add(priority=0)
        await pool.add(priority=1)
        picks = {
            pool.scheduler.select("anthropic_messages", "claude-x", None, None).account_id
            for _ in range(20)
        }
        assert picks == {low.id}

    async def test_weight_shares_traffic_within_a_tier(self, pool: Pool) -> None:
        heavy = await pool.add(weight=300)
        light = await pool.add(weight=100)
        counts: Counter[uuid.UUID] = Counter()
        for _ in range(2000):
            selection = pool.scheduler.select("anthropic_messages", "claude-x", None, None)
            pool.scheduler.release(selection)
            counts[selection.account_id] += 1
        share = counts[heavy.id] / (counts[heavy.id] + counts[light.id])
        assert 0.70 < share < 0.80

    async def test_alias_maps_to_the_upstream_model(self, pool: Pool) -> None:
        await pool.add(models=["claude-sonnet-4-5"], aliases={"sonnet": "claude-sonnet-4-5"})
        selection = pool.scheduler.select("anthropic_messages", "sonnet", None, None)
        assert selection.upstream_model == "claude-sonnet-4-5"
        assert selection.requested_model == "sonnet"

    async def test_protocol_decides_the_provider(self, pool: Pool) -> None:
        await pool.add(provider="anthropic", models=["*"])
        compatible = await pool.add(
            provider="openai_compatible", models=["*"], base_url="https://vllm.local/v1"
        )
        for protocol in ("openai_chat", "openai_responses"):
            assert pool.scheduler.select(protocol, "m", None, None).account_id == compatible.id
        assert (
            pool.scheduler.select(protocol, "m", None, None).url("/v1/chat/completions")
            == "https://vllm.local/v1/chat/completions"
        )

    async def test_dedicated_accounts_serve_only_their_groups(
        self, pool: Pool, session: Session
    ) -> None:
        group = await make_group(session, name="Mobile")
        dedicated = await pool.add(groups=["Mobile"])
        assert (
            pool.scheduler.select("anthropic_messages", "claude-x", group.id, None).account_id
            == dedicated.id
        )
        with pytest.raises(NoAccountAvailableError) as caught:
            pool.scheduler.select("anthropic_messages", "claude-x", uuid.uuid4(), None)
        assert caught.value.details["skipped"] == [
            {"account": dedicated.name, "reason": "dedicated to other groups"}
        ]

    async def test_max_concurrency_holds_a_slot_until_release(self, pool: Pool) -> None:
        only = await pool.add(max_concurrency=1)
        first = pool.scheduler.select("anthropic_messages", "claude-x", None, None)
        with pytest.raises(NoAccountAvailableError) as caught:
            pool.scheduler.select("anthropic_messages", "claude-x", None, None)
        assert "concurrency limit (1)" in caught.value.details["skipped"][0]["reason"]
        pool.scheduler.release(first)
        pool.scheduler.release(first)
        assert pool.state.accounts[only.id].figures.in_flight == 0
        assert (
            pool.scheduler.select("anthropic_messages", "claude-x", None, None).account_id
            == only.id
        )

    async def test_rpm_cap(self, pool: Pool) -> None:
        await pool.add(rpm_cap=2)
        for _ in range(2):
            pool.scheduler.release(
                pool.scheduler.select("anthropic_messages", "claude-x", None, None)
            )
        with pytest.raises(NoAccountAvailableError):
            pool.scheduler.select("anthropic_messages", "claude-x", None, None)
        clock_module.advance(timedelta(seconds=61))
        pool.scheduler.select("anthropic_messages", "claude-x", None, None)

    async def test_tpm_cap_from_reported_usage(self, pool: Pool) -> None:
        account = await pool.add(tpm_cap=1000)
        pool.scheduler.record_usage(account.id, input_tokens=900, output_tokens=100, cost_micros=5)
        with pytest.raises(NoAccountAvailableError) as caught:
            pool.scheduler.select("anthropic_messages", "claude-x", None, None)
        assert "1000 tokens per minute" in caught.value.details["skipped"][0]["reason"]

    async def test_monthly_spend_cap(self, pool: Pool) -> None:
        capped = await pool.add(monthly_spend_cap="1.00", priority=0)
        spare = await pool.add(priority=1)
        pool.scheduler.record_usage(
            capped.id, input_tokens=1, output_tokens=1, cost_micros=1_000_000
        )
        selection = pool.scheduler.select("anthropic_messages", "claude-x", None, None)
        assert selection.account_id == spare.id
        assert selection.trace[0].reason == "monthly spend cap reached"

    async def test_session_affinity_sticks_and_yields(
        self, pool: Pool, client: UpstreamClient, fake: FakeUpstream
    ) -> None:
        await pool.add(base_url=fake.url)
        await pool.add(base_url=fake.url)
        first = pool.scheduler.select("anthropic_messages", "claude-x", None, "sess-1")
        pool.scheduler.release(first)
        for _ in range(20):
            again = pool.scheduler.select("anthropic_messages", "claude-x", None, "sess-1")
            pool.scheduler.release(again)
            assert again.account_id == first.account_id
            assert again.sticky
        pool.scheduler.report(
            first, UpstreamFailure(_rate_limited(), "429", status=429, retry_after=60.0)
        )
        moved = pool.scheduler.select("anthropic_messages", "claude-x", None, "sess-1")
        assert moved.account_id != first.account_id
        assert not moved.sticky

    async def test_affinity_expires(self, pool: Pool) -> None:
        await pool.add()
        pool.scheduler.affinity_ttl = timedelta(minutes=5)
        pool.scheduler.select("anthropic_messages", "claude-x", None, "sess-2")
        clock_module.advance(timedelta(minutes=6))
        assert not pool.scheduler.select("anthropic_messages", "claude-x", None, "sess-2").sticky


class TestNoAccountAvailable:
    async def test_names_the_model_and_tells_admins(self, pool: Pool, session: Session) -> None:
        account = await pool.add(provider="openai", models=["gpt-5-codex"])
        pool.state.accounts[account.id].snapshot = pool.state.accounts[
            account.id
        ].snapshot.__class__(state=AccountState.NEEDS_ATTENTION, reason="auth failed (401)")
        with pytest.raises(NoAccountAvailableError) as caught:
            pool.scheduler.select("openai_responses", "gpt-5-codex", None, None)
        assert (
            str(caught.value)
            == "No account can serve gpt-5-codex right now; admins have been told."
        )
        assert caught.value.code == "no_account_available"
        assert caught.value.details["skipped"] == [
            {"account": account.name, "reason": "needs attention (auth failed (401))"}
        ]
        with pytest.raises(NoAccountAvailableError):
            pool.scheduler.select("openai_responses", "gpt-5-codex", None, None)
        await pool.state.drain(session)
        alerts = (await session.execute(select(PoolAlert))).scalars().all()
        assert [(a.kind, a.subject) for a in alerts] == [("no_account_available", "gpt-5-codex")]

    async def test_unserved_model_is_not_found_and_names_what_is_served(
        self, pool: Pool, session: Session
    ) -> None:
        await pool.add(models=["claude-*"])
        with pytest.raises(ModelNotServedError) as caught:
            pool.scheduler.select("anthropic_messages", "gpt-5", None, None)
        assert caught.value.code == "model_not_served"
        assert "gpt-5" in str(caught.value)
        assert "claude-*" in str(caught.value)
        assert caught.value.details["served"] == ["claude-*"]
        await pool.state.drain(session)
        # Not a capacity problem: admins get no outage alert for it.
        assert (await session.execute(select(PoolAlert))).scalars().all() == []


def _rate_limited() -> Any:
    from spectra.providers.errors import FailureType

    return FailureType.RATE_LIMITED


class TestOtherProtocols:
    async def test_an_account_of_another_protocol_serves_when_none_of_the_callers_does(
        self, pool: Pool
    ) -> None:
        account = await pool.add(provider="anthropic", models=["claude-*"])
        chosen = pool.scheduler.select("openai_chat", "claude-x", None, None)
        assert (chosen.account_id, chosen.upstream_protocol) == (account.id, "anthropic_messages")
        assert chosen.translated
        with pytest.raises(ModelNotServedError):
            pool.scheduler.select("openai_chat", "claude-x", None, None, translate=False)

    async def test_a_usable_account_of_the_callers_protocol_comes_first(self, pool: Pool) -> None:
        await pool.add(provider="openai_compatible", models=["claude-*"], priority=0)
        own = await pool.add(provider="anthropic", models=["claude-*"], priority=9)
        chosen = pool.scheduler.select("anthropic_messages", "claude-x", None, None)
        assert (chosen.account_id, chosen.translated) == (own.id, False)
        # Once the caller's own account is tried, the other protocol's takes the next attempt.
        other = pool.scheduler.select(
            "anthropic_messages", "claude-x", None, None, exclude={own.id}
        )
        assert other.upstream_protocol == "openai_chat"

    async def test_translated_traffic_speaks_responses_to_openai_and_chat_to_compatible(
        self, pool: Pool
    ) -> None:
        openai_account = await pool.add(provider="openai", models=["claude-*"], priority=0)
        compatible = await pool.add(provider="openai_compatible", models=["claude-*"], priority=1)
        chosen = pool.scheduler.select("anthropic_messages", "claude-x", None, None)
        assert (chosen.account_id, chosen.upstream_protocol) == (
            openai_account.id,
            "openai_responses",
        )
        other = pool.scheduler.select(
            "anthropic_messages", "claude-x", None, None, exclude={openai_account.id}
        )
        assert (other.account_id, other.upstream_protocol) == (compatible.id, "openai_chat")

    async def test_listed_but_unusable_in_another_protocol_is_no_account_available(
        self, pool: Pool
    ) -> None:
        account = await pool.add(provider="anthropic", models=["claude-*"])
        with pytest.raises(NoAccountAvailableError) as caught:
            pool.scheduler.select("openai_chat", "claude-x", None, None, exclude={account.id})
        assert caught.value.details["skipped"] == [
            {"account": account.name, "reason": "already tried for this request"}
        ]
