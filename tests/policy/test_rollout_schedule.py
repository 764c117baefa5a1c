"""When the autopilot may act: business hours and days in the workspace time zone, freezes."""

from __future__ import annotations

from datetime import UTC, datetime

from spectra.policy.rollout_schedule import Schedule

SUNDAY_10 = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)


def test_inside_business_hours_is_now() -> None:
    monday_11 = datetime(2026, 11, 16, 11, 30, tzinfo=UTC)
    assert Schedule().next_allowed(monday_11) == monday_11


def test_a_weekend_waits_for_monday_morning() -> None:
    assert Schedule().next_allowed(SUNDAY_10) == datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_hours_are_in_the_workspace_time_zone() -> None:
    berlin = Schedule(time_zone="Europe/Berlin")
    # 08:30 UTC Monday is 09:30 in Berlin (CET, UTC+1): allowed
    assert berlin.allows(datetime(2026, 11, 16, 8, 30, tzinfo=UTC))
    # 16:30 UTC is 17:30 in Berlin: closed; next is Tuesday 09:00 Berlin = 08:00 UTC
    assert berlin.next_allowed(datetime(2026, 11, 16, 16, 30, tzinfo=UTC)) == datetime(
        2026, 11, 17, 8, 0, tzinfo=UTC
    )


def test_a_freeze_pushes_past_its_end() -> None:
    freeze = (datetime(2026, 11, 16, 0, 0, tzinfo=UTC), datetime(2026, 11, 18, 12, 0, tzinfo=UTC))
    schedule = Schedule(freezes=(freeze,))
    assert schedule.next_allowed(SUNDAY_10) == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def test_no_allowed_time_at_all_is_none() -> None:
    never = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    assert Schedule(freezes=(never,)).next_allowed(SUNDAY_10) is None
