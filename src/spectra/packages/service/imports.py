"""CSV import of user -> package assignments: validated line by line, all or nothing."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.kit.clock import utc_now
from spectra.packages import repository
from spectra.packages.errors import (
    AssignmentImportRejectedError,
    PackageTermsInvalidError,
)
from spectra.packages.models import (
    Package,
    PackageVersion,
)
from spectra.packages.service import periods as period_service
from spectra.packages.service.assignments import (
    Plan,
    Preview,
    Progress,
    assignable_version,
    check_window,
    make_assignment,
    preview_gains,
)
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require


async def import_assignments(
    session: Session,
    actor: Actor,
    *,
    csv_text: str,
    reason: str = "",
    preview: bool = False,
    progress: Progress | None = None,
) -> list[Preview]:
    """Assign packages from CSV (`email,package` and optional `starts_at,ends_at,reason`).

    Every line is validated first; if any is rejected nothing is applied and
    AssignmentImportRejectedError lists each rejected line and why. All or nothing.
    """
    require(actor, Permission.READ_ALL if preview else Permission.PACKAGES_WRITE)
    tz = ZoneInfo(await period_service.workspace_time_zone(session))
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"), newline=""))
    try:
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        if not {"email", "package"} <= columns:
            raise PackageTermsInvalidError(
                "The CSV needs a header line with at least the columns email,package."
            )
        rows: list[tuple[int, dict[str, str]]] = [
            (n, {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()})
            for n, raw in enumerate(reader, start=2)
        ]
    except csv.Error as exc:
        raise AssignmentImportRejectedError(
            f"The file is not valid CSV (line {reader.line_num}: {exc}).", rejected=[]
        ) from None
    users = await users_service.users_by_email(
        session, [r["email"] for _, r in rows if r.get("email")]
    )
    rejected: list[dict[str, Any]] = []
    plans: dict[str, list[Plan]] = {}
    seen: set[tuple[str, str]] = set()
    packages: dict[str, tuple[Package, PackageVersion] | str] = {}
    for line, row in rows:
        email, name = row.get("email", "").lower(), row.get("package", "")

        def reject(why: str, line: int = line, email: str = email, name: str = name) -> None:
            rejected.append({"line": line, "email": email, "package": name, "reason": why})

        if not email or not name:
            reject("email and package are both required")
            continue
        user = users.get(email)
        if user is None:
            reject(f"no user {email}")
            continue
        key = name.lower()
        if key not in packages:
            try:
                packages[key] = await assignable_version(session, name)
            except SpectraError as exc:
                packages[key] = exc.message
        found = packages[key]
        if isinstance(found, str):
            reject(found)
            continue
        if (email, key) in seen:
            reject("the same user and package appear on an earlier line")
            continue
        seen.add((email, key))
        try:
            starts_at = _parse_time(row.get("starts_at", ""), tz, "starts_at")
            ends_at = _parse_time(row.get("ends_at", ""), tz, "ends_at")
            check_window(starts_at or utc_now(), ends_at)
        except PackageTermsInvalidError as exc:
            reject(exc.message)
            continue
        if await repository.active_assignments_of_package(session, found[0].id, user_ids=[user.id]):
            reject(f"{email} already holds {found[0].name}")
            continue
        plans.setdefault(key, []).append(
            Plan(
                user=user,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=row.get("reason") or reason or "CSV import",
            )
        )
    if rejected:
        raise AssignmentImportRejectedError(
            f"{len(rejected)} of {len(rows)} lines were rejected, so nothing was imported; fix them and import again.",
            rejected=rejected,
            lines=len(rows),
        )
    results: list[Preview] = []
    total = sum(len(p) for p in plans.values())
    done = 0
    for key, batch in plans.items():
        found = packages[key]
        assert not isinstance(found, str)
        pkg, version = found
        result = await preview_gains(session, pkg, version, [p.user for p in batch])
        result.action = "import"
        if not preview:
            for plan in batch:
                await make_assignment(session, actor, package=pkg, version=version, plan=plan)
                done += 1
                if progress is not None:
                    progress(done, total)
            result.applied = True
        results.append(result)
    if not preview:
        await audit_service.record(
            session,
            actor,
            "packages.import",
            target_type="package_import",
            lines=len(rows),
            assigned=total,
            reason=reason,
        )
    return results


def _parse_time(text: str, tz: ZoneInfo, name: str) -> datetime | None:
    """A CSV date (midnight in the workspace time zone) or an ISO datetime (naive = workspace time)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise PackageTermsInvalidError(
            f"{name} '{text}' is not a date (2026-12-01) or an ISO time."
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=tz)
