"""What a bulk assignment change looks like before (and after) it applies: one row per user who
gains, loses, changes allowance or stays, computed by the same code that applies the change."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from spectra.db.session import AnySession
from spectra.packages import repository
from spectra.packages.models import Package, PackageAssignment, PackageVersion
from spectra.users.models import User

Progress = Callable[[int, int], None]
"""Called as (done, total) while a bulk change applies: the CLI draws its progress bar from it."""
Change = Literal["gain", "lose", "change", "unchanged"]


@dataclass(frozen=True, slots=True)
class PreviewRow:
    user_id: uuid.UUID
    email: str
    change: Change
    from_version: int | None
    to_version: int | None
    allowance_before_micros: int
    allowance_after_micros: int
    """Allowance per period before and after, micros."""
    note: str = ""


@dataclass(slots=True)
class Preview:
    """Who a bulk change touches and how; `applied` says whether it was carried out."""

    action: str
    package: str
    rows: list[PreviewRow] = field(default_factory=list)
    applied: bool = False

    def count(self, change: Change) -> int:
        return sum(1 for r in self.rows if r.change == change)

    @property
    def gain(self) -> int:
        return self.count("gain")

    @property
    def lose(self) -> int:
        return self.count("lose")

    @property
    def change(self) -> int:
        return self.count("change")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def allowance_delta_micros(self) -> int:
        return sum(r.allowance_after_micros - r.allowance_before_micros for r in self.rows)


@dataclass(frozen=True, slots=True)
class AssignmentDetail:
    assignment: PackageAssignment
    package_name: str
    version: int
    email: str | None


@dataclass(frozen=True, slots=True)
class Plan:
    """Validated terms of one assignment to make."""

    user: User
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    auto_renew: bool = True
    reason: str = ""


async def preview_gains(
    session: AnySession, pkg: Package, version: PackageVersion, users: Sequence[User]
) -> Preview:
    held = {
        a.user_id: a
        for a in await repository.active_assignments_of_package(
            session, pkg.id, user_ids=[u.id for u in users]
        )
    }
    versions = await repository.versions_by_id(session, [a.version_id for a in held.values()])
    result = Preview(action="assign", package=pkg.name)
    for user in users:
        current = held.get(user.id)
        if current is None:
            result.rows.append(
                PreviewRow(
                    user.id,
                    user.email,
                    "gain",
                    None,
                    version.version,
                    0,
                    version.allowance_micros,
                    "gains the package",
                )
            )
        else:
            have = versions[current.version_id]
            result.rows.append(
                PreviewRow(
                    user.id,
                    user.email,
                    "unchanged",
                    have.version,
                    have.version,
                    have.allowance_micros,
                    have.allowance_micros,
                    f"already holds version {have.version}",
                )
            )
    return result
