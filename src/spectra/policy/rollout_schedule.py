"""When the autopilot may act (pure): business hours and days in the workspace time zone, and a
freeze calendar. `next_allowed(now)` is now itself when allowed, else the start of the next
allowed hour outside every freeze."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

HOURS_AHEAD = 24 * 400
"""How far `next_allowed` looks (a freeze longer than this leaves nothing allowed)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    time_zone: str = "UTC"
    start_hour: int = 9
    """First allowed hour of the day, local time (inclusive)."""
    end_hour: int = 17
    """End of the allowed hours, local time (exclusive)."""
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Allowed weekdays, Monday = 0."""
    freezes: tuple[tuple[datetime, datetime], ...] = field(default=())
    """[start, end) periods (aware datetimes) when nothing is promoted."""

    def allows(self, when: datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.time_zone))
        if local.weekday() not in self.days:
            return False
        if not self.start_hour <= local.hour < self.end_hour:
            return False
        return not any(start <= when < end for start, end in self.freezes)

    def next_allowed(self, now: datetime) -> datetime | None:
        """`now` when allowed; else the first allowed whole hour after it; None if none."""
        if self.allows(now):
            return now
        hour = now.replace(minute=0, second=0, microsecond=0)
        for _ in range(HOURS_AHEAD):
            hour += timedelta(hours=1)
            if self.allows(hour):
                return hour
        return None
