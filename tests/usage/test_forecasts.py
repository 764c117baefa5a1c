"""Forecasts: burn rate, projection against a group budget, runway; and period arithmetic."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from spectra.audit.actor import Actor, ActorKind, local_actor
from spectra.db.session import Session
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.models import AccountKind, TransactionKind
from spectra.usage import forecasts, periods, rollups
from spectra.usage import service as usage_service

from .factories import make_group, usage_record

OWNER = local_actor()
GATEWAY = Actor(kind=ActorKind.GATEWAY, label="gateway")
M = 1_000_000


class TestForecast:
    async def test_group_runway_projection_and_budget(
        self, session: Session, clock: datetime
    ) -> None:
        group = await make_group(session, name="Platform", monthly_cap_micros=30 * M)
        await ledger_service.recharge(
            session, OWNER, group_id=group.id, amount=100 * M, memo="budget", idempotency_key="g"
        )
        wallet = await ledger_service.wallet_account(session, group_id=group.id)
        expense = await ledger_service.get_or_create_account(
            session, kind=AccountKind.USAGE_EXPENSE
        )
        for day in range(7):
            if day:
                clock_module.advance(timedelta(days=1))
            txn = await ledger_service.post(
                session,
                GATEWAY,
                kind=TransactionKind.USAGE,
                postings=[(wallet.id, -2 * M), (expense.id, 2 * M)],
                idempotency_key=f"usage:{uuid.uuid4()}",
                metadata={"model": "gpt-5"},
            )
            await usage_service.record_usage(
                session,
                record=usage_record(
                    group_id=group.id, cost_micros=2 * M, ledger_transaction_id=txn.id
                ),
            )
        clock_module.advance(timedelta(hours=1))  # now Nov 21 11:00 UTC
        await rollups.roll_up(session, lag=timedelta(0))
        data = await forecasts.forecast(session, OWNER, group_id=group.id)
        (item,) = data["items"]
        assert item["window_spend_micros"] == 14 * M
        assert item["burn_rate_per_day_micros"] == 2 * M
        assert item["month_to_date_micros"] == 14 * M
        # 14 + 2/day x (Dec 1 00:00 - Nov 21 11:00 = 9 days 13 hours)
        assert item["projected_month_spend_micros"] == 14 * M + 19_083_333
        assert item["over_budget"] is True
        assert item["budget_reached_on"] == "2026-11-29"
        assert item["balance_micros"] == 86 * M
        assert item["runway_days"] == "43.0"
        assert item["runs_out_on"] == "2027-01-03"
        assert item["summary"].startswith(
            "Group Platform's balance lasts until about Jan 3, 2027 at the last 7 days' rate"
        )
        assert "UTC" in data["method"]

    async def test_workspace_view_lists_groups_and_spenders(
        self, session: Session, clock: datetime
    ) -> None:
        group = await make_group(session)
        user_id = uuid.uuid4()
        await usage_service.record_usage(
            session, record=usage_record(user_id=user_id, group_id=group.id, cost_micros=700)
        )
        clock_module.advance(timedelta(hours=1))
        await rollups.roll_up(session, lag=timedelta(0))
        data = await forecasts.forecast(session, OWNER, window_days=1)
        subjects = [i["subject"] for i in data["items"]]
        assert subjects[0] == "workspace"
        assert "group" in subjects
        assert data["items"][0]["window_spend_micros"] == 700


class TestPeriods:
    def test_a_date_is_local_midnight_in_the_workspace_zone(self) -> None:
        berlin = periods.zone("Europe/Berlin")
        assert periods.parse_moment("2026-11-01", berlin, field="since") == datetime(
            2026, 10, 31, 23, 0, tzinfo=UTC
        )
        assert periods.parse_moment("2026-11-01T09:00Z", berlin, field="since") == datetime(
            2026, 11, 1, 9, 0, tzinfo=UTC
        )

    def test_months_are_clipped_and_follow_the_zone(self) -> None:
        tokyo = periods.zone("Asia/Tokyo")
        start = periods.local_midnight(date(2026, 10, 15), tokyo)
        end = periods.local_midnight(date(2026, 12, 2), tokyo)
        spans = periods.months(start, end, tokyo)
        assert [periods.month_label(lo, tokyo) for lo, _ in spans] == [
            "2026-10",
            "2026-11",
            "2026-12",
        ]
        assert spans[0][0] == start
        assert spans[1] == (
            datetime(2026, 10, 31, 15, 0, tzinfo=UTC),
            datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
        )
        assert spans[-1][1] == end
