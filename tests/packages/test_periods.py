"""Period boundaries: month ends, leap years, weeks and days, one_time validity, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from spectra.packages.errors import PackageTermsInvalidError
from spectra.packages.periods import (
    Period,
    add_months,
    boundary,
    close_period,
    validate_terms,
    window,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


class TestAddMonths:
    def test_jan_31_clamps_to_feb_28(self) -> None:
        assert add_months(datetime(2027, 1, 31, 9), 1) == datetime(2027, 2, 28, 9)  # noqa: DTZ001

    def test_jan_31_clamps_to_feb_29_in_a_leap_year(self) -> None:
        assert add_months(datetime(2028, 1, 31, 9), 1) == datetime(2028, 2, 29, 9)  # noqa: DTZ001

    def test_december_rolls_into_next_year(self) -> None:
        assert add_months(datetime(2026, 12, 15), 1) == datetime(2027, 1, 15)  # noqa: DTZ001

    def test_many_months(self) -> None:
        assert add_months(datetime(2026, 11, 30), 15) == datetime(2028, 2, 29)  # noqa: DTZ001


class TestMonthly:
    def test_month_end_anchor_returns_to_31_after_february(self) -> None:
        anchor = utc(2027, 1, 31, 9)
        starts = [
            boundary(anchor, period=Period.MONTHLY, index=i, time_zone="UTC") for i in range(4)
        ]
        assert starts == [
            utc(2027, 1, 31, 9),
            utc(2027, 2, 28, 9),
            utc(2027, 3, 31, 9),
            utc(2027, 4, 30, 9),
        ]

    def test_leap_day_anchor_renews_on_feb_28_next_year(self) -> None:
        anchor = utc(2028, 2, 29)
        assert boundary(anchor, period=Period.MONTHLY, index=12, time_zone="UTC") == utc(
            2029, 2, 28
        )
        assert boundary(anchor, period=Period.MONTHLY, index=48, time_zone="UTC") == utc(
            2032, 2, 29
        )

    def test_window_is_start_to_next_start(self) -> None:
        w = window(utc(2026, 11, 15, 10), period=Period.MONTHLY, index=1, time_zone="UTC")
        assert w is not None
        assert (w.index, w.starts_at, w.ends_at) == (1, utc(2026, 12, 15, 10), utc(2027, 1, 15, 10))

    def test_local_midnight_stays_midnight_across_dst(self) -> None:
        anchor = datetime(2026, 3, 1, tzinfo=NY)  # EST, UTC-5
        nxt = boundary(anchor, period=Period.MONTHLY, index=1, time_zone="America/New_York")
        assert nxt == utc(2026, 4, 1, 4)  # EDT, UTC-4
        assert nxt.astimezone(NY).hour == 0

    def test_month_end_in_a_zone_ahead_of_utc(self) -> None:
        # Feb 1 00:00 in Berlin is still Jan 31 in UTC: the month is the local one.
        anchor = datetime(2027, 1, 31, 0, 30, tzinfo=BERLIN)
        nxt = boundary(anchor, period=Period.MONTHLY, index=1, time_zone="Europe/Berlin")
        assert nxt.astimezone(BERLIN) == datetime(2027, 2, 28, 0, 30, tzinfo=BERLIN)


class TestWeeklyAndDaily:
    def test_weekly_is_seven_local_days(self) -> None:
        anchor = utc(2026, 11, 15, 10)
        assert boundary(anchor, period=Period.WEEKLY, index=2, time_zone="UTC") == utc(
            2026, 11, 29, 10
        )

    def test_week_across_spring_forward_is_167_hours(self) -> None:
        anchor = datetime(2026, 3, 5, 9, tzinfo=NY)
        w = window(anchor, period=Period.WEEKLY, index=0, time_zone="America/New_York")
        assert w is not None
        assert w.ends_at - w.starts_at == timedelta(hours=167)
        assert w.ends_at.astimezone(NY).hour == 9

    def test_day_across_fall_back_is_25_hours(self) -> None:
        anchor = datetime(2026, 10, 25, 0, tzinfo=BERLIN)
        w = window(anchor, period=Period.DAILY, index=0, time_zone="Europe/Berlin")
        assert w is not None
        assert w.ends_at - w.starts_at == timedelta(hours=25)

    def test_skipped_wall_time_moves_forward(self) -> None:
        anchor = datetime(2026, 3, 7, 2, 30, tzinfo=NY)
        nxt = boundary(anchor, period=Period.DAILY, index=1, time_zone="America/New_York")
        assert nxt.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)  # noqa: DTZ001

    def test_daily_over_a_leap_day(self) -> None:
        assert boundary(utc(2028, 2, 28), period=Period.DAILY, index=1, time_zone="UTC") == utc(
            2028, 2, 29
        )


class TestOneTimeAndEnds:
    def test_one_time_lasts_valid_days(self) -> None:
        w = window(
            utc(2026, 11, 15), period=Period.ONE_TIME, index=0, time_zone="UTC", valid_days=30
        )
        assert w is not None
        assert w.ends_at == utc(2026, 12, 15)

    def test_one_time_has_no_second_period(self) -> None:
        assert (
            window(
                utc(2026, 11, 15), period=Period.ONE_TIME, index=1, time_zone="UTC", valid_days=30
            )
            is None
        )

    def test_end_date_cuts_the_last_period(self) -> None:
        w = window(
            utc(2026, 11, 15),
            period=Period.MONTHLY,
            index=1,
            time_zone="UTC",
            ends_at=utc(2026, 12, 20),
        )
        assert w is not None
        assert w.ends_at == utc(2026, 12, 20)

    def test_no_period_starts_at_or_after_the_end_date(self) -> None:
        ends = utc(2026, 12, 15)
        assert (
            window(utc(2026, 11, 15), period=Period.MONTHLY, index=1, time_zone="UTC", ends_at=ends)
            is None
        )


class TestValidateTerms:
    def test_one_time_needs_valid_days(self) -> None:
        with pytest.raises(PackageTermsInvalidError):
            validate_terms(Period.ONE_TIME, None, 0)

    def test_monthly_refuses_valid_days(self) -> None:
        with pytest.raises(PackageTermsInvalidError):
            validate_terms(Period.MONTHLY, 30, 0)

    def test_one_time_cannot_roll_over(self) -> None:
        with pytest.raises(PackageTermsInvalidError):
            validate_terms(Period.ONE_TIME, 10, 1)

    def test_unknown_time_zone_is_refused(self) -> None:
        with pytest.raises(PackageTermsInvalidError):
            boundary(utc(2026, 1, 1), period=Period.DAILY, index=1, time_zone="Mars/Olympus")


class TestClosePeriod:
    def test_without_rollover_everything_expires(self) -> None:
        c = close_period(7_000_000, allowance=20_000_000, rollover_periods=0, final=False)
        assert (c.expire_micros, c.kept_micros) == (7_000_000, 0)

    def test_rollover_keeps_up_to_the_cap(self) -> None:
        c = close_period(35_000_000, allowance=20_000_000, rollover_periods=1, final=False)
        assert (c.expire_micros, c.kept_micros) == (15_000_000, 20_000_000)

    def test_rollover_below_the_cap_keeps_all(self) -> None:
        c = close_period(5_000_000, allowance=20_000_000, rollover_periods=2, final=False)
        assert (c.expire_micros, c.kept_micros) == (0, 5_000_000)

    def test_final_period_never_rolls_over(self) -> None:
        c = close_period(5_000_000, allowance=20_000_000, rollover_periods=2, final=True)
        assert (c.expire_micros, c.kept_micros) == (5_000_000, 0)

    def test_negative_balance_is_carried_never_expired(self) -> None:
        c = close_period(-3_000_000, allowance=20_000_000, rollover_periods=0, final=True)
        assert (c.expire_micros, c.kept_micros) == (0, -3_000_000)
