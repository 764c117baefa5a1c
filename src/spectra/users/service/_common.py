"""Shared checks of the users services: field rules, lookups by id or name, audit snapshots."""

from __future__ import annotations

import re
import uuid
from typing import Any

from spectra.audit import service as audit_service
from spectra.audit.actor import SYSTEM, Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.users import repository
from spectra.users.errors import (
    FieldRequiredError,
    FieldTooLongError,
    GroupNotFoundError,
    InvalidEmailError,
    UnknownRoleError,
    UnknownStatusError,
    UserNotFoundError,
)
from spectra.users.models import DEFAULT_GROUP, STATUSES, Group, User
from spectra.users.permissions import Manage, Permission, Role, require_can_manage
from spectra.users.scope import require_user_ref

UserRef = uuid.UUID | str
"""A user named by id or by email."""
GroupRef = uuid.UUID | str
"""A group named by id or by name."""

# Deliberately permissive: self-hosted teams use internal domains (`corp.local`, `localhost`).
_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$"
)

MAX_EMAIL = 320
MAX_NAME = 200
MAX_GROUP_NAME = 100
MAX_DESCRIPTION = 1000
MAX_REASON = 500


def clean_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > MAX_EMAIL:
        raise FieldTooLongError(
            f"An email address may have at most {MAX_EMAIL} characters.", field="email"
        )
    if not _EMAIL.match(value) or ".." in value.partition("@")[2]:
        raise InvalidEmailError(f"'{email.strip()[:100]}' is not an email address.", field="email")
    return value


def clean_text(value: str, *, field: str, limit: int, required: bool = False) -> str:
    text = value.strip()
    if len(text) > limit:
        raise FieldTooLongError(
            f"{field} may have at most {limit} characters.", field=field, max_length=limit
        )
    if required and not text:
        raise FieldRequiredError(f"{field} cannot be empty.", field=field)
    return text


def parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise UnknownRoleError(
            f"'{role[:50]}' is not a role; use one of {known}.", role=role[:50]
        ) from None


def parse_status(status: str) -> str:
    if status not in STATUSES:
        raise UnknownStatusError(
            f"'{status[:50]}' is not a status; use one of {', '.join(STATUSES)}."
        )
    return status


def as_uuid(ref: UserRef | GroupRef) -> uuid.UUID | None:
    if isinstance(ref, uuid.UUID):
        return ref
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


async def load_user(session: AnySession, ref: UserRef) -> User:
    """The user named by id or email (group loaded), or UserNotFoundError. No permission check."""
    user_id = as_uuid(ref)
    user = (
        await repository.get_user(session, user_id)
        if user_id is not None
        else await repository.find_user_by_email(session, str(ref).strip())
    )
    if user is None:
        raise UserNotFoundError(f"No user '{str(ref)[:320]}' exists.", user=str(ref)[:320])
    return user


async def load_group(session: AnySession, ref: GroupRef) -> Group:
    group_id = as_uuid(ref)
    group = (
        await repository.get_group(session, group_id)
        if group_id is not None
        else await repository.find_group_by_name(session, str(ref))
    )
    if group is None:
        raise GroupNotFoundError(
            f"No group '{str(ref)[:100]}' exists; create it first (spectra groups create).",
            group=str(ref)[:100],
        )
    return group


async def managed_target(session: Session, actor: Actor, user: UserRef, action: Manage) -> User:
    """The user an action of the users permission is about: anyone below the actor's rank, or,
    for a team lead, a member of a group they lead (`spectra.users.scope`)."""
    target, scope = await require_user_ref(
        session, actor, Permission.USERS_WRITE, lambda: load_user(session, user)
    )
    if scope.everywhere:
        require_can_manage(actor, target, action)
    return target


async def default_group(session: Session) -> Group:
    """The built-in `default` group, created (and audited as `system`) the first time it is needed."""
    group = await repository.find_group_by_name(session, DEFAULT_GROUP)
    if group is not None:
        return group
    group = Group(
        name=DEFAULT_GROUP,
        name_key=DEFAULT_GROUP,
        description="Members created without a group.",
        is_builtin=True,
    )
    session.add(group)
    await session.flush()
    await audit_service.record_on(
        session, SYSTEM, "groups.create", "group", group, after=group_snapshot(group)
    )
    return group


def user_snapshot(user: User) -> dict[str, Any]:
    """What the audit log keeps of a user (its group loaded): never the password hash."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "status": user.status,
        "status_reason": user.status_reason,
        "group_id": str(user.group_id),
        "group": user.group.name,
    }


def group_snapshot(group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "description": group.description,
        "monthly_cap_micros": group.monthly_cap_micros,
        "member_monthly_cap_micros": group.member_monthly_cap_micros,
    }


async def audit_user(
    session: Session,
    actor: Actor,
    action: str,
    user: User,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **details: Any,
) -> None:
    await audit_service.record(
        session,
        actor,
        action,
        target_type="user",
        target_id=user.id,
        target_label=user.email,
        before=before,
        after=after,
        **details,
    )


async def save_audited(
    session: Session, actor: Actor, user: User, before: dict[str, Any], *, action: str, feed: str
) -> User:
    """Flush a change to `user`, audit it with before/after and tell the change feed `feed`."""
    await session.flush()
    await audit_user(session, actor, action, user, before=before, after=user_snapshot(user))
    await record_change(session, feed, user.id)
    return user
