"""Percentage cohorts (pure): "N % of group G" or "N % of everyone", picked by a stable hash.

Each member gets a bucket in [0, 10 000) from a hash of (rollout id, member id); a cohort of
N % takes the members whose bucket is below N × 100 (basis points). The bucket never changes
for a rollout, so growing a cohort from 10 % to 25 % keeps the first 10 % in, and two rollouts
pick independent samples. A holdout takes the top of the range (buckets at or above
10 000 − holdout) out of every cohort of the rollout, so it stays the same people throughout.
Exclusions (named members, whole groups) are removed before anything else.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

BUCKETS = 10_000
"""Basis points: a bucket is a member's place in [0, 100 %) in steps of 0.01 %."""


class Member(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def group_id(self) -> uuid.UUID | None: ...


def bucket(rollout_id: uuid.UUID, member_id: uuid.UUID) -> int:
    """The member's stable place in [0, 10 000) for this rollout."""
    digest = hashlib.sha256(rollout_id.bytes + member_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True, slots=True)
class Sample:
    """Who a percentage cohort reaches out of its pool, and why the others are not in it."""

    chosen: tuple[uuid.UUID, ...]
    held_out: tuple[uuid.UUID, ...]
    excluded: tuple[uuid.UUID, ...]
    outside: tuple[uuid.UUID, ...]
    """In the pool, not excluded nor held out, but above the cohort's percentage (not yet in)."""


def in_holdout(rollout_id: uuid.UUID, member_id: uuid.UUID, holdout_bp: int) -> bool:
    return holdout_bp > 0 and bucket(rollout_id, member_id) >= BUCKETS - holdout_bp


def sample(
    rollout_id: uuid.UUID,
    pool: Iterable[Member],
    *,
    percent_bp: int,
    holdout_bp: int = 0,
    exclude_users: Collection[uuid.UUID] = (),
    exclude_groups: Collection[uuid.UUID] = (),
) -> Sample:
    """Split `pool` into chosen / held out / excluded / outside. `percent_bp` counts against the
    whole pool's buckets (10 % = buckets below 1 000), so a holdout shrinks a 100 % cohort to
    100 % − holdout but never moves anyone from one side of a smaller cohort to the other."""
    if not 0 <= percent_bp <= BUCKETS or not 0 <= holdout_bp <= BUCKETS:
        raise ValueError("percentages are basis points in [0, 10 000]")
    chosen: list[uuid.UUID] = []
    held: list[uuid.UUID] = []
    excluded: list[uuid.UUID] = []
    outside: list[uuid.UUID] = []
    for member in pool:
        if member.id in exclude_users or (
            member.group_id is not None and member.group_id in exclude_groups
        ):
            excluded.append(member.id)
            continue
        place = bucket(rollout_id, member.id)
        if holdout_bp and place >= BUCKETS - holdout_bp:
            held.append(member.id)
        elif place < percent_bp:
            chosen.append(member.id)
        else:
            outside.append(member.id)
    return Sample(tuple(chosen), tuple(held), tuple(excluded), tuple(outside))


def describe(percent_bp: int, groups: Sequence[str], everyone: bool) -> str:
    """ "10 % of everyone", "25 % of engineering, sales" (for views and explanations)."""
    share = f"{percent_bp / 100:g} %"
    return f"{share} of everyone" if everyone else f"{share} of {', '.join(groups)}"
