"""Percentage cohorts: a stable hash of (rollout, member), monotonic growth, holdout, exclusions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from spectra.policy.rollout_percent import BUCKETS, bucket, describe, in_holdout, sample

ROLLOUT = uuid.UUID("6f1d2a52-0000-4000-8000-000000000001")
OTHER = uuid.UUID("6f1d2a52-0000-4000-8000-000000000002")
ENG = uuid.UUID("00000000-0000-4000-8000-00000000e000")
SALES = uuid.UUID("00000000-0000-4000-8000-00000000f000")


@dataclass(frozen=True)
class M:
    id: uuid.UUID
    group_id: uuid.UUID | None


def _pool(n: int) -> list[M]:
    return [M(uuid.UUID(int=i + 1), ENG if i % 3 else SALES) for i in range(n)]


def test_bucket_is_stable_and_depends_on_the_rollout() -> None:
    member = uuid.UUID(int=42)
    assert bucket(ROLLOUT, member) == bucket(ROLLOUT, uuid.UUID(int=42))
    assert 0 <= bucket(ROLLOUT, member) < BUCKETS
    pool = _pool(200)
    mine = {m.id for m in pool if bucket(ROLLOUT, m.id) < 1_000}
    theirs = {m.id for m in pool if bucket(OTHER, m.id) < 1_000}
    assert mine != theirs


def test_growing_keeps_everyone_already_in() -> None:
    pool = _pool(2_000)
    previous: set[uuid.UUID] = set()
    for percent in (100, 1_000, 2_500, 5_000, 10_000):
        chosen = set(sample(ROLLOUT, pool, percent_bp=percent).chosen)
        assert previous <= chosen
        assert len(chosen) >= len(previous)
        previous = chosen
    assert previous == {m.id for m in pool}


def test_share_is_close_to_the_percentage_on_a_large_pool() -> None:
    pool = _pool(5_000)
    chosen = sample(ROLLOUT, pool, percent_bp=1_000).chosen
    assert 400 <= len(chosen) <= 600  # 10 % of 5 000, well inside the hash's spread


def test_holdout_is_the_same_people_in_every_cohort_and_never_chosen() -> None:
    pool = _pool(1_000)
    held = None
    for percent in (1_000, 5_000, 10_000):
        s = sample(ROLLOUT, pool, percent_bp=percent, holdout_bp=500)
        assert not set(s.chosen) & set(s.held_out)
        held = held or set(s.held_out)
        assert set(s.held_out) == held
    assert held
    assert all(in_holdout(ROLLOUT, m, 500) for m in held)
    full = sample(ROLLOUT, pool, percent_bp=10_000, holdout_bp=500)
    assert len(full.chosen) + len(full.held_out) == len(pool)


def test_exclusions_win_over_the_percentage() -> None:
    pool = _pool(300)
    named = pool[1].id
    s = sample(ROLLOUT, pool, percent_bp=10_000, exclude_users={named}, exclude_groups={SALES})
    assert named not in s.chosen
    assert all(m.group_id == ENG for m in pool if m.id in s.chosen)
    assert set(s.excluded) == {named} | {m.id for m in pool if m.group_id == SALES}
    assert not s.outside


def test_percentages_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="basis points"):
        sample(ROLLOUT, _pool(3), percent_bp=10_001)
    with pytest.raises(ValueError, match="basis points"):
        sample(ROLLOUT, _pool(3), percent_bp=10, holdout_bp=-1)


def test_describe() -> None:
    assert describe(1_000, [], True) == "10 % of everyone"
    assert describe(2_550, ["eng", "sales"], False) == "25.5 % of eng, sales"
