from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spectra.errors import InvalidCursorError
from spectra.kit import clock as clock_module
from spectra.kit.ids import uuid7
from spectra.kit.pagination import decode_cursor, encode_cursor


def test_uuid7_is_version_7_and_increasing() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_frozen_clock_freezes_and_advances(clock: datetime) -> None:
    assert clock_module.utc_now() == clock
    clock_module.advance(timedelta(minutes=5))
    assert clock_module.utc_now() == clock + timedelta(minutes=5)


def test_freeze_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clock_module.freeze(datetime(2026, 1, 1))  # noqa: DTZ001


def test_unfrozen_clock_is_utc() -> None:
    assert clock_module.utc_now().tzinfo is UTC


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor(["2026-01-01T00:00:00+00:00", 5])) == ["2026-01-01T00:00:00+00:00", 5]
    with pytest.raises(InvalidCursorError):
        decode_cursor("%%%not-a-cursor")
