"""Import users from CSV (email,name,group,role): validated line by line, all or nothing.

An unknown group rejects the line rather than creating the group: groups carry budgets, policy
and a default package, so they are created deliberately (`spectra groups create`), and a typo
in one line must not quietly create a new team.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.users import repository
from spectra.users.errors import FieldRequiredError, ImportRejectedError
from spectra.users.models import DEFAULT_GROUP, User
from spectra.users.permissions import Permission, Role, allows, require

from ._common import MAX_GROUP_NAME, MAX_NAME, clean_email, clean_text, default_group, parse_role
from .members import _insert_user

MAX_LINES = 10_000
COLUMNS = ("email", "name", "group", "role")


@dataclass(frozen=True, slots=True)
class ImportLine:
    line: int
    email: str
    name: str
    group: str
    role: str


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    email: str | None
    reason: str


def parse_csv(text: str) -> tuple[list[ImportLine], list[Rejection]]:
    """Split CSV text into candidate lines and lines rejected for their shape alone."""
    lines: list[ImportLine] = []
    rejected: list[Rejection] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    first = True
    try:
        for row in reader:
            number = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if first and row[0].strip().lower() == "email":
                first = False
                continue
            first = False
            if len(row) > len(COLUMNS):
                rejected.append(
                    Rejection(
                        number,
                        row[0].strip()[:320] or None,
                        f"has {len(row)} columns; expected at most 4 (email,name,group,role)",
                    )
                )
                continue
            cells = [c.strip() for c in row] + [""] * (len(COLUMNS) - len(row))
            lines.append(ImportLine(number, *cells))
            if len(lines) + len(rejected) > MAX_LINES:
                raise ImportRejectedError(
                    f"The file has more than {MAX_LINES} lines; split it into smaller files.",
                    rejected=[],
                )
    except csv.Error as exc:
        raise ImportRejectedError(
            f"The file is not valid CSV (line {reader.line_num}: {exc}).", rejected=[]
        ) from None
    return lines, rejected


async def import_users(session: Session, actor: Actor, *, csv_text: str) -> list[User]:
    """Create every user of the CSV, or none: any rejected line refuses the whole file with a
    report (`ImportRejectedError.details["rejected"]`: line, email, reason).

    Empty group = `default`; empty role = `member`; roles other than member need an owner.
    Each user is audited as `users.create` (and publishes `UserJoinedGroup`), plus one
    `users.import` event.
    """
    require(actor, Permission.USERS_WRITE)
    lines, rejected = parse_csv(csv_text)
    if not lines and not rejected:
        raise FieldRequiredError("The file has no users in it.", field="csv")
    groups = await repository.groups_by_name_key(session)
    existing = await repository.existing_emails(
        session, [e for e in (_safe_email(line.email) for line in lines) if e is not None]
    )
    seen: dict[str, int] = {}
    accepted: list[tuple[ImportLine, str]] = []
    for line in lines:
        try:
            email = clean_email(line.email) if line.email else None
            if email is None:
                raise FieldRequiredError("the email is missing")
            clean_text(line.name, field="name", limit=MAX_NAME)
            clean_text(line.group, field="group", limit=MAX_GROUP_NAME)
            role = parse_role(line.role) if line.role else Role.MEMBER
        except SpectraError as exc:
            rejected.append(Rejection(line.line, line.email[:320] or None, _reason(exc)))
            continue
        reason = None
        if email in seen:
            reason = f"the email appears again (first on line {seen[email]})"
        elif email in existing:
            reason = "a user with this email already exists"
        elif line.group and line.group.lower() not in groups:
            reason = f"no group '{line.group}' exists; create it first (unknown groups are not created by an import)"
        elif role is not Role.MEMBER and not allows(actor, Permission.ROLES_WRITE):
            reason = f"only an owner may give the role '{role.value}'"
        seen.setdefault(email, line.line)
        if reason is not None:
            rejected.append(Rejection(line.line, email, reason))
            continue
        accepted.append((line, email))
    if rejected:
        rejected.sort(key=lambda r: r.line)
        total = len(lines) + sum(1 for r in rejected if r.line not in {line.line for line in lines})
        raise ImportRejectedError(
            f"{len(rejected)} of {total} lines were rejected, so nothing was imported; fix them and import again.",
            rejected=[{"line": r.line, "email": r.email, "reason": r.reason} for r in rejected],
        )
    fallback = await default_group(session)
    created: list[User] = []
    for line, email in accepted:
        group = groups[line.group.lower()] if line.group else fallback
        created.append(
            await _insert_user(
                session,
                actor,
                email=email,
                name=line.name,
                role=line.role or "member",
                group=group.id,
                status="active",
            )
        )
    await audit_service.record(
        session,
        actor,
        "users.import",
        target_type="users",
        target_label=f"{len(created)} users",
        after={
            "created": len(created),
            "groups": sorted({u.group.name for u in created} or {DEFAULT_GROUP}),
        },
    )
    return created


def _safe_email(raw: str) -> str | None:
    try:
        return clean_email(raw) if raw else None
    except SpectraError:
        return None


def _reason(exc: SpectraError) -> str:
    text = exc.message.rstrip(".")
    return text[0].lower() + text[1:] if text else exc.code
