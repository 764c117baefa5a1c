"""The package catalog: create, edit (a new version), archive, read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.kit.ids import uuid7
from spectra.kit.pagination import Page
from spectra.packages import repository
from spectra.packages.errors import (
    PackageArchivedError,
    PackageNameTakenError,
    PackageNotFoundError,
    PackageTermsInvalidError,
    PackageVersionNotFoundError,
)
from spectra.packages.models import Package, PackageStatus, PackageVersion, version_terms
from spectra.packages.periods import Period, validate_terms
from spectra.packages.schemas import PackageCreate, PackageUpdate
from spectra.users.permissions import Permission, require

_TERM_FIELDS = (
    "allowance",
    "period",
    "valid_days",
    "rollover_periods",
    "model_patterns",
    "rpm",
    "tpm",
    "max_concurrent",
    "max_cost_per_request",
    "list_price",
)
_REQUIRED_TERMS = {"allowance", "period", "rollover_periods", "model_patterns", "list_price"}
_COLUMN = {
    "allowance": "allowance_micros",
    "max_cost_per_request": "max_cost_per_request_micros",
    "list_price": "list_price_micros",
}


@dataclass(frozen=True, slots=True)
class PackageDetail:
    """A package with its current terms and how many hold it."""

    package: Package
    terms: PackageVersion
    active_assignments: int


def _clean_patterns(patterns: Sequence[str]) -> list[str]:
    cleaned = [p.strip() for p in patterns if p.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise PackageTermsInvalidError("A model pattern is listed twice.", field="model_patterns")
    return cleaned


def _check(version: PackageVersion) -> None:
    validate_terms(Period(version.period), version.valid_days, version.rollover_periods)


async def get_package(session: AnySession, actor: Actor, *, name: str) -> PackageDetail:
    """The package named `name` (any case) with its current terms, or PackageNotFoundError."""
    require(actor, Permission.READ_ALL)
    package = await _by_name(session, name)
    return await _detail(session, package)


async def find_package(session: AnySession, name: str) -> Package | None:
    return await repository.find_package_by_name(session, name)


async def list_packages(
    session: AnySession,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[PackageDetail]:
    require(actor, Permission.READ_ALL)
    page = await repository.list_packages(session, status=status, limit=limit, cursor=cursor)
    return Page(items=[await _detail(session, p) for p in page.items], next_cursor=page.next_cursor)


async def list_versions(session: AnySession, actor: Actor, *, name: str) -> list[PackageVersion]:
    require(actor, Permission.READ_ALL)
    package = await _by_name(session, name)
    return list(await repository.list_versions(session, package.id))


async def create_package(session: Session, actor: Actor, *, data: PackageCreate) -> PackageDetail:
    """Add a package to the catalog with version 1 of its terms. Writes an audit event."""
    require(actor, Permission.PACKAGES_WRITE)
    name = data.name.strip()
    if not name:
        raise PackageTermsInvalidError("A package needs a name.", field="name")
    if await repository.find_package_by_name(session, name) is not None:
        raise PackageNameTakenError(
            f"A package named '{name}' already exists; edit it to make a new version.", name=name
        )
    package = Package(
        id=uuid7(),
        name=name,
        name_key=name.lower(),
        description=data.description,
        status=PackageStatus.ACTIVE,
        current_version=1,
    )
    version = PackageVersion(
        package_id=package.id,
        version=1,
        allowance_micros=data.allowance,
        period=str(data.period),
        valid_days=data.valid_days,
        rollover_periods=data.rollover_periods,
        model_patterns=_clean_patterns(data.model_patterns),
        rpm=data.rpm,
        tpm=data.tpm,
        max_concurrent=data.max_concurrent,
        max_cost_per_request_micros=data.max_cost_per_request,
        list_price_micros=data.list_price,
        note="created",
        created_by=actor.label,
    )
    _check(version)
    session.add(package)
    try:
        await session.flush()
    except IntegrityError:
        raise PackageNameTakenError(
            f"A package named '{name}' already exists.", name=name
        ) from None
    session.add(version)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "packages.create",
        target_type="package",
        target_id=package.id,
        target_label=package.name,
        after=version_terms(version),
    )
    return PackageDetail(package=package, terms=version, active_assignments=0)


async def edit_package(
    session: Session, actor: Actor, *, name: str, data: PackageUpdate
) -> PackageDetail:
    """Change a package. New terms make a new version; existing assignments keep theirs until
    migrated. A description-only change makes no version. Writes an audit event."""
    require(actor, Permission.PACKAGES_WRITE)
    package = await _by_name(session, name)
    if package.status == PackageStatus.ARCHIVED:
        raise PackageArchivedError(
            f"Package '{package.name}' is archived; its terms cannot change."
        )
    current = await _version(session, package, package.current_version)
    sent = data.model_fields_set & set(_TERM_FIELDS)
    for field in sorted(sent & _REQUIRED_TERMS):
        if getattr(data, field) is None:
            raise PackageTermsInvalidError(
                f"{field} cannot be null; send a value or leave it out.", field=field
            )
    values = {f: getattr(current, _COLUMN.get(f, f)) for f in _TERM_FIELDS}
    for field in sent:
        values[field] = getattr(data, field)
    if "period" in sent and data.period is not Period.ONE_TIME and "valid_days" not in sent:
        values["valid_days"] = None
    changed = {f for f in _TERM_FIELDS if values[f] != getattr(current, _COLUMN.get(f, f))}
    if "model_patterns" in changed:
        values["model_patterns"] = _clean_patterns(values["model_patterns"])
    before = {"description": package.description, **version_terms(current)}
    terms = current
    if changed:
        terms = PackageVersion(
            package_id=package.id,
            version=current.version + 1,
            allowance_micros=values["allowance"],
            period=str(values["period"]),
            valid_days=values["valid_days"],
            rollover_periods=values["rollover_periods"],
            model_patterns=list(values["model_patterns"]),
            rpm=values["rpm"],
            tpm=values["tpm"],
            max_concurrent=values["max_concurrent"],
            max_cost_per_request_micros=values["max_cost_per_request"],
            list_price_micros=values["list_price"],
            note=data.note,
            created_by=actor.label,
        )
        _check(terms)
        session.add(terms)
        package.current_version = terms.version
    if data.description is not None:
        package.description = data.description
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "packages.edit",
        target_type="package",
        target_id=package.id,
        target_label=package.name,
        before=before,
        after={"description": package.description, **version_terms(terms)},
        new_version=terms.version if changed else None,
        reason=data.note,
    )
    return await _detail(session, package)


async def archive_package(
    session: Session, actor: Actor, *, name: str, reason: str = ""
) -> PackageDetail:
    """Stop assigning a package. Existing assignments run on until they end or are cancelled.
    Writes an audit event."""
    require(actor, Permission.PACKAGES_WRITE)
    package = await _by_name(session, name)
    if package.status == PackageStatus.ARCHIVED:
        return await _detail(session, package)
    package.status = PackageStatus.ARCHIVED
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "packages.archive",
        target_type="package",
        target_id=package.id,
        target_label=package.name,
        before={"status": "active"},
        after={"status": "archived"},
        reason=reason,
    )
    return await _detail(session, package)


async def _by_name(session: AnySession, name: str) -> Package:
    package = await repository.find_package_by_name(session, name)
    if package is None:
        raise PackageNotFoundError(
            f"There is no package named '{name}'; `spectra packages list` shows them.", name=name
        )
    return package


async def _version(session: AnySession, package: Package, version: int) -> PackageVersion:
    row = await repository.get_version(session, package.id, version)
    if row is None:
        raise PackageVersionNotFoundError(
            f"Package '{package.name}' has no version {version}.", version=version
        )
    return row


async def _detail(session: AnySession, package: Package) -> PackageDetail:
    terms = await _version(session, package, package.current_version)
    count = await repository.count_active_assignments(session, package.id)
    return PackageDetail(package=package, terms=terms, active_assignments=count)
