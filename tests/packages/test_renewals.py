"""Periods on the ledger: first grant, renewal, expiry, rollover, negative carry, cancellation,
end dates, one_time validity, and re-runs that never grant twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from tests.factories import make_user

from spectra.audit.actor import SYSTEM
from spectra.db.models import ChangeFeedEntry
from spectra.db.session import Session
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.packages.models import PackagePeriod, PackageVersion
from spectra.packages.service.periods import period_window

from .factories import OWNER, UNIT, audit_actions, count_txns, make_package, spend


async def _assign(session: Session, **package: object) -> packages_service.AssignmentDetail:
    detail = await make_package(session, **package)
    user = await make_user(session)
    return await packages_service.assign_package(
        session, OWNER, package=detail.package.name, user_id=user.id, reason="test"
    )


async def _balance(session: Session, held: packages_service.AssignmentDetail) -> int:
    return await ledger_service.balance(session, held.assignment.allowance_account_id)


async def _expired_total(session: Session) -> int:
    account = await ledger_service.get_or_create_account(session, kind="expired_allowance")
    return await ledger_service.balance(session, account.id)


async def _renew(
    session: Session, held: packages_service.AssignmentDetail
) -> packages_service.RenewalResult:
    return await packages_service.renew_assignment(session, assignment_id=held.assignment.id)


class TestFirstGrant:
    async def test_assigning_grants_the_first_period_at_once(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session)
        assert await _balance(session, held) == 20 * UNIT
        assert await count_txns(session, "grant", held.assignment.id) == 1
        assert held.assignment.period_starts_at == clock
        assert held.assignment.period_ends_at == datetime(2026, 12, 15, 10, tzinfo=UTC)
        (event,) = await audit_actions(session, "packages.assign")
        assert event.details is not None
        assert (event.details["version"], event.details["reason"]) == (1, "test")
        changes = (
            (
                await session.execute(
                    select(ChangeFeedEntry).where(ChangeFeedEntry.kind == "packages.assignment")
                )
            )
            .scalars()
            .all()
        )
        assert str(held.assignment.user_id) in {c.entity_id for c in changes}

    async def test_a_future_start_waits_for_the_job(
        self, session: Session, clock: datetime
    ) -> None:
        detail = await make_package(session)
        user = await make_user(session)
        held = await packages_service.assign_package(
            session,
            OWNER,
            package=detail.package.name,
            user_id=user.id,
            starts_at=clock + timedelta(days=2),
        )
        assert await _balance(session, held) == 0
        assert (await _renew(session, held)).granted == 0
        clock_module.advance(timedelta(days=2))
        assert (await _renew(session, held)).granted == 1
        assert await _balance(session, held) == 20 * UNIT


class TestRenewal:
    async def test_period_end_expires_unused_and_grants_the_next(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session)
        await spend(session, held.assignment.allowance_account_id, 5 * UNIT)
        clock_module.advance(timedelta(days=30))
        result = await _renew(session, held)
        assert (result.closed, result.granted) == (1, 1)
        assert await _balance(session, held) == 20 * UNIT
        assert await _expired_total(session) == 15 * UNIT
        assert held.assignment.period_starts_at == datetime(2026, 12, 15, 10, tzinfo=UTC)

    async def test_rerunning_never_grants_twice(self, session: Session, clock: datetime) -> None:
        held = await _assign(session)
        clock_module.advance(timedelta(days=30))
        await _renew(session, held)
        again = await _renew(session, held)
        assert (again.granted, again.closed) == (0, 0)
        assert await count_txns(session, "grant", held.assignment.id) == 2
        assert await count_txns(session, "expire", held.assignment.id) == 1
        assert await _balance(session, held) == 20 * UNIT

    async def test_granting_the_same_period_twice_moves_nothing(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session)
        a = held.assignment
        version = await session.get(PackageVersion, a.version_id)
        assert version is not None
        first = period_window(a, version, 0)
        assert first is not None
        # A duplicated scheduler that lost its period row still replays into the same ledger key.
        row = (
            await session.execute(select(PackagePeriod).where(PackagePeriod.assignment_id == a.id))
        ).scalar_one()
        await session.delete(row)
        await session.flush()
        await packages_service.grant_period(
            session, SYSTEM, assignment=a, version=version, win=first
        )
        await packages_service.grant_period(
            session, SYSTEM, assignment=a, version=version, win=first
        )
        assert await count_txns(session, "grant", a.id) == 1
        assert await _balance(session, held) == 20 * UNIT

    async def test_a_scheduler_down_for_months_catches_up_period_by_period(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session)
        clock_module.advance(timedelta(days=92))
        result = await _renew(session, held)
        assert (result.closed, result.granted) == (3, 3)
        assert await _balance(session, held) == 20 * UNIT
        assert await _expired_total(session) == 60 * UNIT


class TestRollover:
    async def test_unused_allowance_rolls_over_up_to_the_cap(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session, rollover_periods=1)
        clock_module.advance(timedelta(days=30))
        await _renew(session, held)
        assert await _balance(session, held) == 40 * UNIT
        assert await _expired_total(session) == 0
        clock_module.advance(timedelta(days=31))
        await _renew(session, held)
        assert await _balance(session, held) == 40 * UNIT
        assert await _expired_total(session) == 20 * UNIT
        periods = (
            (
                await session.execute(
                    select(PackagePeriod)
                    .where(PackagePeriod.assignment_id == held.assignment.id)
                    .order_by(PackagePeriod.period_index)
                )
            )
            .scalars()
            .all()
        )
        assert [p.carried_in_micros for p in periods] == [0, 20 * UNIT, 20 * UNIT]


class TestNegativeCarry:
    async def test_overspend_reduces_the_next_period_and_is_never_forgiven(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session)
        await spend(session, held.assignment.allowance_account_id, 23 * UNIT)
        assert await _balance(session, held) == -3 * UNIT
        clock_module.advance(timedelta(days=30))
        await _renew(session, held)
        assert await _balance(session, held) == 17 * UNIT
        assert await count_txns(session, "expire", held.assignment.id) == 0
        current = (
            await session.execute(
                select(PackagePeriod).where(
                    PackagePeriod.assignment_id == held.assignment.id,
                    PackagePeriod.period_index == 1,
                )
            )
        ).scalar_one()
        assert (current.carried_in_micros, current.granted_micros, current.opening_micros) == (
            -3 * UNIT,
            20 * UNIT,
            17 * UNIT,
        )

    async def test_debt_larger_than_a_grant_carries_on(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session)
        await spend(session, held.assignment.allowance_account_id, 45 * UNIT)
        clock_module.advance(timedelta(days=30))
        await _renew(session, held)
        assert await _balance(session, held) == -5 * UNIT
        clock_module.advance(timedelta(days=31))
        await _renew(session, held)
        assert await _balance(session, held) == 15 * UNIT
        report = await ledger_service.verify(session, OWNER)
        assert report.ok


class TestCancel:
    async def test_cancel_now_expires_unused_and_stops(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session)
        await spend(session, held.assignment.allowance_account_id, 4 * UNIT)
        done = await packages_service.cancel_assignment(
            session, OWNER, assignment_id=held.assignment.id, when="now", reason="left the team"
        )
        assert done.assignment.status == "cancelled"
        assert await _balance(session, held) == 0
        assert await _expired_total(session) == 16 * UNIT
        assert (
            await packages_service.entitlements_for_users(session, [held.assignment.user_id]) == []
        )
        clock_module.advance(timedelta(days=40))
        assert (await _renew(session, held)).granted == 0
        (event,) = await audit_actions(session, "packages.cancel")
        assert event.details is not None
        assert event.details["reason"] == "left the team"

    async def test_cancel_now_keeps_a_negative_balance(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session)
        await spend(session, held.assignment.allowance_account_id, 22 * UNIT)
        await packages_service.cancel_assignment(
            session, OWNER, assignment_id=held.assignment.id, when="now"
        )
        assert await _balance(session, held) == -2 * UNIT

    async def test_cancel_at_period_end_keeps_the_period_then_stops(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session, rollover_periods=2)
        done = await packages_service.cancel_assignment(
            session, OWNER, assignment_id=held.assignment.id, when="period_end", reason="downgrade"
        )
        assert done.assignment.status == "active"
        assert done.assignment.cancel_at == datetime(2026, 12, 15, 10, tzinfo=UTC)
        assert (
            len(await packages_service.entitlements_for_users(session, [held.assignment.user_id]))
            == 1
        )
        assert (await audit_actions(session, "packages.cancel_scheduled"))[
            0
        ].actor_label == OWNER.label
        clock_module.advance(timedelta(days=30))
        result = await _renew(session, held)
        assert (result.granted, result.closed, result.ended) == (0, 1, True)
        assert held.assignment.status == "cancelled"
        assert await _balance(session, held) == 0
        assert await _expired_total(session) == 20 * UNIT
        (event,) = await audit_actions(session, "packages.cancel")
        assert event.actor_label == "system"


class TestEnds:
    async def test_one_time_lasts_its_validity_then_ends(
        self, session: Session, clock: datetime
    ) -> None:
        held = await _assign(session, period="one_time", valid_days=10)
        assert held.assignment.period_ends_at == clock + timedelta(days=10)
        clock_module.advance(timedelta(days=10))
        result = await _renew(session, held)
        assert (result.granted, result.ended) == (0, True)
        assert held.assignment.status == "ended"
        assert await _balance(session, held) == 0

    async def test_end_date_cuts_the_last_period(self, session: Session, clock: datetime) -> None:
        detail = await make_package(session, period="weekly")
        user = await make_user(session)
        held = await packages_service.assign_package(
            session,
            OWNER,
            package=detail.package.name,
            user_id=user.id,
            ends_at=clock + timedelta(days=10),
        )
        clock_module.advance(timedelta(days=7))
        await _renew(session, held)
        assert held.assignment.period_ends_at == clock + timedelta(days=10)
        clock_module.advance(timedelta(days=3))
        result = await _renew(session, held)
        assert result.ended
        assert await count_txns(session, "grant", held.assignment.id) == 2

    async def test_without_auto_renew_it_lasts_one_period(
        self, session: Session, clock: datetime
    ) -> None:
        detail = await make_package(session, period="daily")
        user = await make_user(session)
        held = await packages_service.assign_package(
            session, OWNER, package=detail.package.name, user_id=user.id, auto_renew=False
        )
        clock_module.advance(timedelta(days=1))
        assert (await _renew(session, held)).ended


class TestWorkspaceTimeZone:
    async def test_periods_follow_local_midnight_across_dst(
        self, session: Session, clock: datetime
    ) -> None:
        from zoneinfo import ZoneInfo

        from spectra.workspace import service as workspace_service

        await workspace_service.set_setting(
            session, OWNER, name="time_zone", value="America/New_York"
        )
        detail = await make_package(session, period="monthly")
        user = await make_user(session)
        ny = ZoneInfo("America/New_York")
        start = datetime(2026, 10, 31, tzinfo=ny)  # EDT
        held = await packages_service.assign_package(
            session,
            OWNER,
            package=detail.package.name,
            user_id=user.id,
            starts_at=start.replace(tzinfo=None),
        )
        assert held.assignment.time_zone == "America/New_York"
        assert held.assignment.starts_at == start
        end = held.assignment.period_ends_at
        assert end is not None
        assert end.astimezone(ny) == datetime(2026, 11, 30, tzinfo=ny)  # EST: 05:00 UTC, not 04:00
        assert end == datetime(2026, 11, 30, 5, tzinfo=UTC)
