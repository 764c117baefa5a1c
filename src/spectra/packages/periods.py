"""Period arithmetic for package allowances: pure, no session, no clock.

A period is anchored on the assignment's start and computed in the wall time of a time zone
(the workspace's, fixed on the assignment when it is made), so a monthly package started on
Jan 31 at 09:00 renews on Feb 28 (29 in a leap year) at 09:00 local, then Mar 31 at 09:00,
whatever the DST offsets in between. Each boundary is derived from the anchor, never from the
previous boundary, so a clamped month never drags later months. A wall time that does not exist
(skipped by a spring-forward) is read with the offset before the change (02:30 -> 03:30); an
ambiguous one (repeated by a fall-back) is its first occurrence.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from spectra.packages.errors import PackageTermsInvalidError


class Period(StrEnum):
    MONTHLY = "monthly"
    WEEKLY = "weekly"
    DAILY = "daily"
    ONE_TIME = "one_time"


@dataclass(frozen=True, slots=True)
class Window:
    """One period of an assignment: [starts_at, ends_at) in UTC."""

    index: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Closing:
    """What happens to an allowance balance at period end (micros)."""

    expire_micros: int
    """Moved to expired allowance; never negative."""
    kept_micros: int
    """Stays on the account into the next period: a capped rollover, or a negative carry."""


def zone(time_zone: str) -> ZoneInfo:
    """The IANA zone, or a clear error."""
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PackageTermsInvalidError(
            f"'{time_zone}' is not an IANA time zone such as 'Europe/Berlin'.", field="time_zone"
        ) from None


def validate_terms(period: Period, valid_days: int | None, rollover_periods: int) -> None:
    """Refuse terms that make no period: one_time needs its validity, the others must not have one."""
    if period is Period.ONE_TIME:
        if valid_days is None or valid_days < 1:
            raise PackageTermsInvalidError(
                "A one_time package needs --valid-days N (at least 1).", field="valid_days"
            )
        if rollover_periods:
            raise PackageTermsInvalidError(
                "A one_time package has a single period, so it cannot roll over.",
                field="rollover_periods",
            )
    elif valid_days is not None:
        raise PackageTermsInvalidError(
            f"--valid-days applies to one_time packages only, not {period}.", field="valid_days"
        )
    if rollover_periods < 0:
        raise PackageTermsInvalidError(
            "Rollover is none (0) or a number of periods.", field="rollover_periods"
        )


def add_months(value: datetime, months: int) -> datetime:
    """Same day and wall time `months` later; a day past that month's end clamps to its last day."""
    month0 = value.month - 1 + months
    year = value.year + month0 // 12
    month = month0 % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def boundary(
    anchor: datetime, *, period: Period, index: int, time_zone: str, valid_days: int | None = None
) -> datetime:
    """Start of period `index` (0 is the anchor itself) in UTC; period `index` ends at `index + 1`."""
    if anchor.tzinfo is None:
        raise ValueError("boundary() needs a timezone-aware anchor")
    if index == 0:
        return anchor.astimezone(UTC)
    tz = zone(time_zone)
    local = anchor.astimezone(tz).replace(tzinfo=None)
    if period is Period.MONTHLY:
        shifted = add_months(local, index)
    elif period is Period.WEEKLY:
        shifted = local + timedelta(weeks=index)
    elif period is Period.DAILY:
        shifted = local + timedelta(days=index)
    else:
        if valid_days is None:
            raise ValueError("a one_time period needs valid_days")
        shifted = local + timedelta(days=valid_days * index)
    return shifted.replace(tzinfo=tz).astimezone(UTC)


def window(
    anchor: datetime,
    *,
    period: Period,
    index: int,
    time_zone: str,
    valid_days: int | None = None,
    ends_at: datetime | None = None,
) -> Window | None:
    """Period `index` of an assignment anchored at `anchor`, cut at `ends_at`; None when there is none.

    A one_time package has only period 0. A period that would start at or after `ends_at` does not
    exist; the one that contains `ends_at` ends there (its allowance is not prorated).
    """
    if index < 0 or (period is Period.ONE_TIME and index > 0):
        return None
    starts_at = boundary(
        anchor, period=period, index=index, time_zone=time_zone, valid_days=valid_days
    )
    ends = boundary(
        anchor, period=period, index=index + 1, time_zone=time_zone, valid_days=valid_days
    )
    if ends_at is not None:
        if starts_at >= ends_at:
            return None
        ends = min(ends, ends_at)
    return Window(index=index, starts_at=starts_at, ends_at=ends)


def close_period(balance: int, *, allowance: int, rollover_periods: int, final: bool) -> Closing:
    """Settle an allowance balance at period end.

    A positive balance rolls over up to `rollover_periods` x `allowance` (nothing after the final
    period) and the rest expires. A negative balance (the overspend bound) never expires and is
    never forgiven: it stays on the account and reduces what the next grant makes available.
    """
    if balance <= 0:
        return Closing(expire_micros=0, kept_micros=balance)
    cap = 0 if final else allowance * rollover_periods
    kept = min(balance, cap)
    return Closing(expire_micros=balance - kept, kept_micros=kept)
