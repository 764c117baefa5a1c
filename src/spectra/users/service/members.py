"""Users: create, invite, update, suspend, reactivate, remove, change role, move group (reads are
in `lookup`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from spectra.audit.actor import Actor
from spectra.db import events
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.users import repository
from spectra.users.errors import (
    EmailTakenError,
    GroupNotFoundError,
    GroupRequiredError,
    LastOwnerError,
    SelfActionError,
    UserStatusError,
)
from spectra.users.events import SetupLinkIssued, UserJoinedGroup
from spectra.users.models import Group, PasswordSetupLink, User
from spectra.users.permissions import Manage, Permission, Role, require, require_can_manage
from spectra.users.scope import deny, require_user_ref, scope_for
from spectra.users.sessions import hash_token, new_token

from ._common import (
    MAX_NAME,
    MAX_REASON,
    GroupRef,
    UserRef,
    audit_user,
    clean_email,
    clean_text,
    default_group,
    load_group,
    load_user,
    parse_role,
    user_snapshot,
)
from .leads import sync_primary

SETUP_LINK_TTL = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class IssuedSetupLink:
    """A one-time password-setup link; `token` exists only here, never in the database."""

    user: User
    token: str
    expires_at: datetime
    mailed_to: str | None = None
    """Set when the link was e-mailed (SMTP configured): the surfaces show only where it went."""


async def _email_free(
    session: AnySession, email: str, *, except_id: uuid.UUID | None = None
) -> None:
    if await repository.email_exists(session, email, except_id=except_id):
        raise EmailTakenError(f"A user with the email {email} already exists.", email=email)


async def _insert_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str,
    group: GroupRef | None,
    status: str,
) -> User:
    email = clean_email(email)
    name = clean_text(name, field="name", limit=MAX_NAME)
    parsed_role = parse_role(role)
    scope = await scope_for(session, actor, Permission.USERS_WRITE)
    if parsed_role is not Role.MEMBER:
        # Only owners hand out roles: an admin creating an admin would be a role change by another name.
        require(actor, Permission.ROLES_WRITE)
    if scope.groups is not None:
        target_group = await _led_group(session, actor, scope.groups, group)
    else:
        target_group = await load_group(session, group) if group else await default_group(session)
    await _email_free(session, email)
    user = User(
        email=email, name=name, role=parsed_role.value, status=status, group_id=target_group.id
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise EmailTakenError(
            f"A user with the email {email} already exists.", email=email
        ) from None
    user.group = target_group
    await sync_primary(session, user)
    await audit_user(
        session,
        actor,
        "users.create",
        user,
        after=user_snapshot(user, group_name=target_group.name),
    )
    await events.publish(session, UserJoinedGroup(user_id=user.id, group_id=target_group.id))
    return user


async def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str = "",
    role: str = "member",
    group: GroupRef | None = None,
) -> User:
    """Create an active user in `group` (the built-in `default` when None).

    Emails are unique regardless of case. A role other than `member` needs an owner. Writes an
    audit event and publishes `UserJoinedGroup` in the same transaction.
    """
    return await _insert_user(
        session, actor, email=email, name=name, role=role, group=group, status="active"
    )


async def invite_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str = "",
    role: str = "member",
    group: GroupRef | None = None,
) -> IssuedSetupLink:
    """Create an `invited` user and a one-time password-setup link (returned once).

    The user becomes `active` when they set a password through the link.
    """
    user = await _insert_user(
        session, actor, email=email, name=name, role=role, group=group, status="invited"
    )
    return await _issue_setup_link(session, actor, user)


async def _led_group(
    session: Session, actor: Actor, led: frozenset[uuid.UUID], group: GroupRef | None
) -> Group:
    """The group a team lead adds a member to: one they lead (the only one when unnamed)."""
    if group is None:
        if len(led) != 1:
            raise GroupRequiredError(
                "You lead several groups; name the group the new member joins.", field="group"
            )
        return await load_group(session, next(iter(led)))
    try:
        found = await load_group(session, group)
    except GroupNotFoundError:
        raise deny(actor, Permission.USERS_WRITE) from None
    if found.id not in led:
        raise deny(actor, Permission.USERS_WRITE)
    return found


async def _target(session: Session, actor: Actor, user: UserRef, action: Manage) -> User:
    """The user an action of the users permission is about: anyone below the actor's rank, or,
    for a team lead, a member of a group they lead (`spectra.users.scope`)."""
    target, scope = await require_user_ref(
        session, actor, Permission.USERS_WRITE, lambda: load_user(session, user)
    )
    if scope.everywhere:
        require_can_manage(actor, target, action)
    return target


async def _issue_setup_link(session: Session, actor: Actor, user: User) -> IssuedSetupLink:
    now = utc_now()
    await repository.retire_setup_links(session, user.id, at=now)
    token = new_token()
    expires_at = now + SETUP_LINK_TTL
    session.add(
        PasswordSetupLink(
            user_id=user.id,
            token_hash=hash_token(token),
            created_at=now,
            created_by=actor.label,
            expires_at=expires_at,
        )
    )
    await session.flush()
    issued = SetupLinkIssued(
        user_id=user.id,
        email=user.email,
        name=user.name,
        token=token,
        expires_at=expires_at,
        invited=user.status == "invited",
    )
    await events.publish(session, issued)
    details: dict[str, Any] = {"expires_at": expires_at.isoformat()}
    if issued.mailed_to:
        details["mailed_to"] = issued.mailed_to
    await audit_user(session, actor, "users.setup_link", user, **details)
    return IssuedSetupLink(
        user=user, token=token, expires_at=expires_at, mailed_to=issued.mailed_to
    )


async def create_setup_link(session: Session, actor: Actor, *, user: UserRef) -> IssuedSetupLink:
    """Issue a one-time password-setup link for `user` (valid 72 hours; earlier unused links stop working).

    Needs a rank above the user's (`require_can_manage`): whoever holds the link becomes them.
    Writes an audit event (never the token).
    """
    target = await _target(session, actor, user, Manage.CREDENTIALS)
    if target.status == "removed":
        raise UserStatusError(
            f"{target.email} was removed; reactivate them first.", status=target.status
        )
    return await _issue_setup_link(session, actor, target)


async def update_user(
    session: Session,
    actor: Actor,
    *,
    user: UserRef,
    email: str | None = None,
    name: str | None = None,
) -> User:
    """Change a user's email or display name (an email change needs a rank above the user's, a
    name change too unless owners among themselves). Writes an audit event with before/after."""
    require(actor, Permission.USERS_WRITE)
    target = await load_user(session, user)
    require_can_manage(actor, target, Manage.PROFILE)
    if email is not None and clean_email(email) != target.email:
        require_can_manage(actor, target, Manage.IDENTITY)
    before = user_snapshot(target, group_name=target.group.name)
    if email is not None:
        new_email = clean_email(email)
        if new_email != target.email:
            await _email_free(session, new_email, except_id=target.id)
            target.email = new_email
    if name is not None:
        target.name = clean_text(name, field="name", limit=MAX_NAME)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise EmailTakenError(
            f"A user with the email {target.email} already exists.", email=target.email
        ) from None
    after = user_snapshot(target, group_name=target.group.name)
    if after != before:
        await audit_user(session, actor, "users.update", target, before=before, after=after)
    return target


def _guard_self(actor: Actor, target: User, verb: str) -> None:
    if actor.user_id is not None and actor.user_id == target.id:
        raise SelfActionError(f"You cannot {verb} your own account; ask another admin.")


async def _guard_last_owner(session: Session, target: User, verb: str) -> None:
    if (
        target.role == Role.OWNER.value
        and target.status == "active"
        and await repository.count_active_owners(session, lock=True) <= 1
    ):
        raise LastOwnerError(
            f"{target.email} is the last active owner; make someone else an owner before you {verb} them.",
            user=target.email,
        )


async def _set_status(
    session: Session,
    actor: Actor,
    target: User,
    *,
    status: str,
    reason: str | None,
    action: str,
) -> User:
    before = user_snapshot(target, group_name=target.group.name)
    target.status = status
    target.status_reason = reason
    await session.flush()
    if status in ("suspended", "removed"):
        await repository.end_sessions(session, target.id, at=utc_now())
    await audit_user(
        session,
        actor,
        action,
        target,
        before=before,
        after=user_snapshot(target, group_name=target.group.name),
    )
    await record_change(session, "users.status", target.id)
    return target


async def suspend_user(session: Session, actor: Actor, *, user: UserRef, reason: str) -> User:
    """Suspend a user: their sessions end and gateways drop their keys within a second (change feed).

    Refuses the last active owner. Writes an audit event.
    """
    require_scope = await scope_for(session, actor, Permission.USERS_WRITE)
    reason = clean_text(reason, field="reason", limit=MAX_REASON, required=True)
    if require_scope.everywhere:
        target = await load_user(session, user)
        _guard_self(actor, target, "suspend")
    target = await _target(session, actor, user, Manage.STATUS)
    if target.status in ("suspended", "removed"):
        raise UserStatusError(f"{target.email} is already {target.status}.", status=target.status)
    await _guard_last_owner(session, target, "suspend")
    return await _set_status(
        session, actor, target, status="suspended", reason=reason, action="users.suspend"
    )


async def reactivate_user(session: Session, actor: Actor, *, user: UserRef) -> User:
    """Make a suspended or removed user active again. Writes an audit event."""
    target = await _target(session, actor, user, Manage.STATUS)
    if target.status not in ("suspended", "removed"):
        raise UserStatusError(
            f"{target.email} is {target.status}, not suspended or removed.", status=target.status
        )
    return await _set_status(
        session, actor, target, status="active", reason=None, action="users.reactivate"
    )


async def remove_user(
    session: Session, actor: Actor, *, user: UserRef, reason: str | None = None
) -> User:
    """Remove a user (soft: history, usage and ledger stay; the email stays reserved).

    Refuses the last active owner. Writes an audit event.
    """
    require(actor, Permission.USERS_WRITE)
    clean_reason = clean_text(reason, field="reason", limit=MAX_REASON) if reason else None
    target = await load_user(session, user)
    _guard_self(actor, target, "remove")
    require_can_manage(actor, target, Manage.STATUS)
    if target.status == "removed":
        raise UserStatusError(f"{target.email} is already removed.", status=target.status)
    await _guard_last_owner(session, target, "remove")
    return await _set_status(
        session, actor, target, status="removed", reason=clean_reason, action="users.remove"
    )


async def change_role(session: Session, actor: Actor, *, user: UserRef, role: str) -> User:
    """Give a user another role (owners only). Refuses to leave no active owner. Writes an audit event."""
    require(actor, Permission.ROLES_WRITE)
    new_role = parse_role(role)
    target = await load_user(session, user)
    if target.role == new_role.value:
        return target
    await _guard_last_owner(session, target, "demote")
    before = user_snapshot(target, group_name=target.group.name)
    target.role = new_role.value
    await session.flush()
    await audit_user(
        session,
        actor,
        "users.change_role",
        target,
        before=before,
        after=user_snapshot(target, group_name=target.group.name),
    )
    await record_change(session, "users.role", target.id)
    return target


async def move_group(session: Session, actor: Actor, *, user: UserRef, group: GroupRef) -> User:
    """Move a user to another home group. Publishes `UserJoinedGroup`; writes an audit event."""
    require(actor, Permission.USERS_WRITE)
    target = await load_user(session, user)
    require_can_manage(actor, target, Manage.PROFILE)
    new_group = await load_group(session, group)
    if target.group_id == new_group.id:
        return target
    before = user_snapshot(target, group_name=target.group.name)
    target.group_id = new_group.id
    target.group = new_group
    await session.flush()
    await sync_primary(session, target)
    await audit_user(
        session,
        actor,
        "users.move_group",
        target,
        before=before,
        after=user_snapshot(target, group_name=new_group.name),
    )
    await events.publish(session, UserJoinedGroup(user_id=target.id, group_id=new_group.id))
    await record_change(session, "users.group", target.id)
    return target
