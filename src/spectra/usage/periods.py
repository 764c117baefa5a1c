"""Period arithmetic in the workspace time zone (pure): dates typed by people mean local midnight.

A statement "from 2026-11-01 to 2026-12-01" in Europe/Berlin covers [Nov 1 00:00 Berlin,
Dec 1 00:00 Berlin), i.e. [Oct 31 23:00Z, Nov 30 23:00Z). A time with a zone is taken as is; a
time without one is a local time in the workspace zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from spectra.usage.errors import InvalidUsageFilterError


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` starts in `tz`."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def parse_moment(text: str, tz: ZoneInfo, *, field: str) -> datetime:
    """`2026-11-01` (local midnight), `2026-11-01T09:00` (local) or `...Z`/`+01:00` (as given)."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            return local_midnight(date.fromisoformat(raw), tz)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidUsageFilterError(
            f"{field} '{raw}' is not a date or time; write it like 2026-12-01 or 2026-12-01T09:00Z.",
            field=field,
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def as_utc(value: datetime, tz: ZoneInfo) -> datetime:
    """A datetime from an API query: naive means local time in the workspace zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def month_start(at: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant the local calendar month containing `at` starts."""
    local = at.astimezone(tz)
    return local_midnight(local.date().replace(day=1), tz)


def next_month_start(start: datetime, tz: ZoneInfo) -> datetime:
    local = start.astimezone(tz).date()
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return local_midnight(date(year, month, 1), tz)


def month_bounds(at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = month_start(at, tz)
    return start, next_month_start(start, tz)


def months(since: datetime, until: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The local calendar months overlapping [since, until), each clipped to the range."""
    out: list[tuple[datetime, datetime]] = []
    start = month_start(since, tz)
    while start < until:
        end = next_month_start(start, tz)
        out.append((max(start, since), min(end, until)))
        start = end
    return out


def month_label(start: datetime, tz: ZoneInfo) -> str:
    return start.astimezone(tz).strftime("%Y-%m")


def local_date(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400
