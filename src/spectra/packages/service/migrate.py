"""Version migration: move holders of a package to another version, with a preview."""

from __future__ import annotations

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.ledger import service as ledger_service
from spectra.packages import repository
from spectra.packages.models import (
    PackageVersion,
)
from spectra.packages.service import periods as period_service
from spectra.packages.service.assignments import Change, Preview, PreviewRow, Progress
from spectra.packages.service.catalog import _by_name, _version
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require


async def preview_migration(
    session: AnySession,
    actor: Actor,
    *,
    package: str,
    to_version: int | None = None,
    from_version: int | None = None,
) -> Preview:
    """Who would move to `to_version` (default: current) and how their allowance changes."""
    require(actor, Permission.READ_ALL)
    return await _migration(session, package, to_version, from_version)


async def migrate_assignments(
    session: Session,
    actor: Actor,
    *,
    package: str,
    to_version: int | None = None,
    from_version: int | None = None,
    reason: str = "",
    progress: Progress | None = None,
) -> Preview:
    """Move active assignments to another version of their package. Models and limits change at
    once; the allowance changes from the next grant (the current period keeps what it was given).
    Each move is audited and goes out on the change feed."""
    require(actor, Permission.PACKAGES_WRITE)
    result = await _migration(session, package, to_version, from_version)
    pkg = await _by_name(session, package)
    target = await _version(session, pkg, to_version or pkg.current_version)
    moved = [r for r in result.rows if r.from_version != r.to_version]
    assignments = {
        a.user_id: a for a in await repository.active_assignments_of_package(session, pkg.id)
    }
    for row in moved:
        await ledger_service.refuse_own_gain(
            session,
            actor,
            amount=max(0, row.allowance_after_micros - row.allowance_before_micros),
            user_id=row.user_id,
            why=f"You cannot move your own assignment of '{pkg.name}' to a larger allowance.",
        )
    for done, row in enumerate(moved, start=1):
        assignment = assignments[row.user_id]
        assignment.version_id = target.id
        await audit_service.record(
            session,
            actor,
            "packages.migrate",
            target_type="package_assignment",
            target_id=assignment.id,
            target_label=f"{pkg.name} for {row.email}",
            before={"version": row.from_version},
            after={"version": row.to_version},
            user_id=str(row.user_id),
            reason=reason,
        )
        await record_change(session, period_service.CHANGE_KIND, row.user_id)
        if progress is not None:
            progress(done, len(moved))
    await session.flush()
    result.applied = True
    return result


async def _migration(
    session: AnySession, package: str, to_version: int | None, from_version: int | None
) -> Preview:
    pkg = await _by_name(session, package)
    target = await _version(session, pkg, to_version or pkg.current_version)
    if from_version is not None:
        await _version(session, pkg, from_version)
    assignments = await repository.active_assignments_of_package(session, pkg.id)
    versions = await repository.versions_by_id(session, [a.version_id for a in assignments])
    users = await users_service.users_by_id(session, [a.user_id for a in assignments])
    result = Preview(action="migrate", package=pkg.name)
    for a in assignments:
        have = versions[a.version_id]
        if have.id == target.id or (from_version is not None and have.version != from_version):
            continue
        change: Change = (
            "change" if have.allowance_micros != target.allowance_micros else "unchanged"
        )
        result.rows.append(
            PreviewRow(
                a.user_id,
                users[a.user_id].email,
                change,
                have.version,
                target.version,
                have.allowance_micros,
                target.allowance_micros,
                _terms_note(have, target),
            )
        )
    return result


def _terms_note(old: PackageVersion, new: PackageVersion) -> str:
    notes = []
    added = sorted(set(new.model_patterns) - set(old.model_patterns))
    removed = sorted(set(old.model_patterns) - set(new.model_patterns))
    if added:
        notes.append("models +" + ",".join(added))
    if removed:
        notes.append("models -" + ",".join(removed))
    for name in (
        "period",
        "rollover_periods",
        "rpm",
        "tpm",
        "max_concurrent",
        "max_cost_per_request_micros",
    ):
        if getattr(old, name) != getattr(new, name):
            notes.append(f"{name} {getattr(old, name)}→{getattr(new, name)}")
    return "; ".join(notes)
