from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from spectra.audit.actor import Actor, ActorKind, local_actor
from spectra.audit.models import AuditEvent
from spectra.db.models import ChangeFeedEntry
from spectra.db.session import Session
from spectra.errors import InvalidAmountError
from spectra.kit.clock import utc_now
from spectra.usage import service as usage_service
from spectra.usage.errors import InvalidPriceError, InvalidUsageFilterError
from spectra.usage.models import PriceOverride, UsageRecord
from spectra.usage.table import PriceTable
from spectra.users.errors import UserNotFoundError
from spectra.users.permissions import PermissionDeniedError
from spectra.workspace import service as workspace_service

from .factories import make_group, make_user, usage_record

ADMIN = Actor(kind=ActorKind.USER, label="admin@example.com", role="admin")
AUDITOR = Actor(kind=ActorKind.USER, label="auditor@example.com", role="auditor")


async def _audit(session: Session, action: str) -> AuditEvent:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    return (await session.execute(stmt)).scalars().first()  # type: ignore[return-value]


class TestSetPrice:
    async def test_a_provider_price_fills_cache_prices_from_that_provider(
        self, session: Session, clock: datetime
    ) -> None:
        price = await usage_service.set_price(
            session, ADMIN, model="bedrock/claude-sonnet-4-5", input="3.00", output="15"
        )
        assert (price.cache_read, price.cache_write) == (Decimal("0.33"), Decimal("4.125"))
        row = (await session.execute(select(PriceOverride))).scalars().one()
        assert row.note == (
            "cache read from genai-prices; cache write from genai-prices;"
            " 1h cache write from genai-prices; web search at the default"
        )
        # Bedrock's 1-hour writes (genai-prices: aws) and the $10 per 1,000 searches default.
        assert price.cache_write_1h == Decimal("6.6")
        assert price.web_search == Decimal(10)

    async def test_admin_sets_a_price_and_it_is_audited(
        self, session: Session, clock: datetime
    ) -> None:
        price = await usage_service.set_price(
            session,
            ADMIN,
            model="My-Llama",
            input="0.50",
            output="1.5",
            cache_read="0.05",
            cache_write="0.6",
        )
        assert price.source == "override"
        assert (price.input, price.output, price.cache_read, price.cache_write) == (
            Decimal("0.5"),
            Decimal("1.5"),
            Decimal("0.05"),
            Decimal("0.6"),
        )
        row = (await session.execute(select(PriceOverride))).scalars().one()
        assert row.model == "my-llama"
        assert row.effective_from == clock
        assert price.version_id == f"override:{row.id}"
        event = await _audit(session, "prices.set")
        assert event.target_id == "my-llama"
        assert event.before is None
        assert event.after is not None
        assert event.after["input"] == "0.50"
        feed = (
            (
                await session.execute(
                    select(ChangeFeedEntry).where(ChangeFeedEntry.kind == "usage.prices")
                )
            )
            .scalars()
            .all()
        )
        assert [c.entity_id for c in feed] == ["my-llama"]

    async def test_missing_cache_prices_come_from_genai_prices(
        self, session: Session, clock: datetime
    ) -> None:
        price = await usage_service.set_price(
            session, ADMIN, model="claude-sonnet-4-6", input="2", output="10"
        )
        assert price.cache_read == Decimal("0.3")
        assert price.cache_write == Decimal("3.75")
        event = await _audit(session, "prices.set")
        assert event.before is not None
        assert event.before["source"] == "genai-prices"

    async def test_missing_cache_prices_of_an_unknown_model_are_the_input_price(
        self, session: Session, clock: datetime
    ) -> None:
        price = await usage_service.set_price(
            session, ADMIN, model="my-llama", input="2", output="10"
        )
        assert price.cache_read == Decimal(2)
        assert price.cache_write == Decimal(2)

    async def test_a_new_price_keeps_the_old_version(
        self, session: Session, clock: datetime
    ) -> None:
        first = await usage_service.set_price(
            session, ADMIN, model="my-llama", input="2", output="10"
        )
        later = clock + timedelta(days=3)
        second = await usage_service.set_price(
            session, ADMIN, model="my-llama", input="1", output="5", effective_from=later
        )
        assert not second.is_current
        table = PriceTable()
        await table.load(session)
        assert table.price_for("my-llama", clock).version_id == first.version_id  # type: ignore[union-attr]
        assert table.price_for("my-llama", later).version_id == second.version_id  # type: ignore[union-attr]
        count = (await session.execute(select(func.count()).select_from(PriceOverride))).scalar()
        assert count == 2

    async def test_a_price_in_the_past_is_refused(self, session: Session, clock: datetime) -> None:
        with pytest.raises(InvalidPriceError, match="past"):
            await usage_service.set_price(
                session,
                ADMIN,
                model="m",
                input="1",
                output="1",
                effective_from=clock - timedelta(days=1),
            )

    async def test_more_than_six_decimals_is_refused(self, session: Session) -> None:
        with pytest.raises(InvalidAmountError):
            await usage_service.set_price(session, ADMIN, model="m", input="0.0000001", output="1")

    async def test_an_auditor_may_not_set_prices(self, session: Session) -> None:
        with pytest.raises(PermissionDeniedError):
            await usage_service.set_price(session, AUDITOR, model="m", input="1", output="1")

    async def test_the_override_is_in_the_workspace_currency(
        self, session: Session, clock: datetime
    ) -> None:
        await workspace_service.set_setting(session, local_actor(), name="currency", value="EUR")
        await workspace_service.set_setting(session, local_actor(), name="usd_rate", value="0.9")
        price = await usage_service.set_price(
            session, ADMIN, model="claude-sonnet-4-6", input="2", output="10"
        )
        assert price.currency == "EUR"
        assert price.cache_read == Decimal("0.27")


class TestListPrices:
    async def test_lists_overrides_in_force_and_scheduled(
        self, session: Session, clock: datetime
    ) -> None:
        await usage_service.set_price(session, ADMIN, model="a-model", input="1", output="2")
        await usage_service.set_price(
            session,
            ADMIN,
            model="a-model",
            input="3",
            output="4",
            effective_from=clock + timedelta(days=1),
        )
        items = await usage_service.list_prices(session, AUDITOR)
        assert [(p.input, p.is_current) for p in items] == [(Decimal(1), True), (Decimal(3), False)]

    async def test_one_model_shows_its_default(self, session: Session, clock: datetime) -> None:
        items = await usage_service.list_prices(session, AUDITOR, model="gpt-4o")
        assert len(items) == 1
        assert items[0].source == "genai-prices"
        assert items[0].tiers == []

    async def test_a_tiered_default_shows_its_long_context_tier(
        self, session: Session, clock: datetime
    ) -> None:
        (item,) = await usage_service.list_prices(session, AUDITOR, model="claude-sonnet-4-5")
        (tier,) = item.tiers
        assert tier.above_prompt_tokens == 200_000
        assert (tier.input, tier.output) == (2 * item.input, Decimal("1.5") * item.output)

    async def test_defaults_are_listed_on_request(self, session: Session, clock: datetime) -> None:
        items = await usage_service.list_prices(session, AUDITOR, include_defaults=True)
        models = {p.model for p in items}
        assert {"claude-sonnet-4-6", "gpt-4o"} <= models


class TestRecordUsage:
    async def test_writes_one_record(self, session: Session, clock: datetime) -> None:
        user = await make_user(session)
        row = await usage_service.record_usage(
            session, record=usage_record(user_id=user.id, group_id=user.group_id, cost_micros=1234)
        )
        stored = await session.get(UsageRecord, row.id)
        assert stored is not None
        assert stored.cost_micros == 1234
        assert stored.created_at == clock
        assert stored.funding[0]["amount_micros"] == 1234
        assert stored.funding[0]["kind"] == "user_wallet"

    async def test_a_bad_status_is_refused_by_the_schema(self, session: Session) -> None:
        from sqlalchemy.exc import IntegrityError

        with pytest.raises(IntegrityError):
            await usage_service.record_usage(session, record=usage_record(status="weird"))


class TestRecordUsageBatch:
    async def test_writes_many_records_in_one_insert(
        self, session: Session, clock: datetime
    ) -> None:
        user = await make_user(session)
        records = [usage_record(user_id=user.id, cost_micros=i) for i in range(50)]
        ids = await usage_service.record_usage_batch(session, records)
        assert len(set(ids)) == 50
        total = (await session.execute(select(func.sum(UsageRecord.cost_micros)))).scalar()
        assert total == sum(range(50))

    async def test_an_empty_batch_writes_nothing(self, session: Session) -> None:
        assert await usage_service.record_usage_batch(session, []) == []


class TestListUsage:
    async def test_member_sees_only_their_own(self, session: Session, clock: datetime) -> None:
        alice = await make_user(session)
        bob = await make_user(session)
        await usage_service.record_usage_batch(
            session, [usage_record(user_id=alice.id), usage_record(user_id=bob.id)]
        )
        member = Actor(kind=ActorKind.USER, label=alice.email, user_id=alice.id, role="member")
        page = await usage_service.list_usage(session, member)
        assert {r.user_id for r in page.items} == {alice.id}
        with pytest.raises(PermissionDeniedError):
            await usage_service.list_usage(session, member, user_id=bob.id)

    async def test_admin_filters_by_email_group_model_client_status(
        self, session: Session, clock: datetime
    ) -> None:
        team = await make_group(session)
        alice = await make_user(session, group=team)
        bob = await make_user(session)
        await usage_service.record_usage_batch(
            session,
            [
                usage_record(
                    user_id=alice.id,
                    group_id=team.id,
                    model_requested="gpt-4o",
                    client_family="codex_cli",
                ),
                usage_record(
                    user_id=alice.id,
                    group_id=team.id,
                    status="refused",
                    refusal_reason="model_unpriced",
                    cost_micros=0,
                ),
                usage_record(user_id=bob.id, group_id=bob.group_id),
            ],
        )
        assert (
            len((await usage_service.list_usage(session, AUDITOR, user_email=alice.email)).items)
            == 2
        )
        assert (
            len((await usage_service.list_usage(session, AUDITOR, group_name=team.name)).items) == 2
        )
        assert len((await usage_service.list_usage(session, AUDITOR, model="gpt-4o")).items) == 1
        assert (
            len((await usage_service.list_usage(session, AUDITOR, client="codex_cli")).items) == 1
        )
        refused = await usage_service.list_usage(
            session, AUDITOR, status="refused", refusal_reason="model_unpriced"
        )
        assert [r.user_id for r in refused.items] == [alice.id]
        assert refused.extra["emails"] == {alice.id: alice.email}

    async def test_pages_by_cursor_newest_first(self, session: Session, clock: datetime) -> None:
        await usage_service.record_usage_batch(
            session, [usage_record(cost_micros=i) for i in range(5)]
        )
        first = await usage_service.list_usage(session, AUDITOR, limit=3)
        second = await usage_service.list_usage(session, AUDITOR, limit=3, cursor=first.next_cursor)
        costs = [r.cost_micros for r in [*first.items, *second.items]]
        assert costs == [4, 3, 2, 1, 0]
        assert second.next_cursor is None

    async def test_time_range(self, session: Session, clock: datetime) -> None:
        await usage_service.record_usage_batch(session, [usage_record()])
        now = utc_now()
        assert len((await usage_service.list_usage(session, AUDITOR, since=now)).items) == 1
        assert len((await usage_service.list_usage(session, AUDITOR, until=now)).items) == 0

    async def test_unknown_user_and_bad_filters_are_refused(self, session: Session) -> None:
        with pytest.raises(UserNotFoundError) as caught:
            await usage_service.list_usage(session, AUDITOR, user_email="nobody@example.com")
        assert caught.value.code == "user_not_found"
        with pytest.raises(InvalidUsageFilterError, match="client"):
            await usage_service.list_usage(session, AUDITOR, client="emacs")
        with pytest.raises(InvalidUsageFilterError, match="time zone"):
            await usage_service.list_usage(session, AUDITOR, since=datetime(2026, 1, 1))  # noqa: DTZ001
