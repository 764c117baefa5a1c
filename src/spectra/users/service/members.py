"""Users: create, invite, setup links, update, move group (status and role changes are in
`status`, reads in `lookup`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from spectra.audit.actor import Actor
from spectra.db import events
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.users import repository
from spectra.users.errors import (
    EmailTakenError,
    GroupNotFoundError,
    GroupRequiredError,
    UserStatusError,
)
from spectra.users.events import SetupLinkIssued, UserJoinedGroup
from spectra.users.models import Group, PasswordSetupLink, User
from spectra.users.permissions import Manage, Permission, Role, require, require_can_manage
from spectra.users.scope import deny, scope_for
from spectra.users.sessions import hash_token, new_token

from ._common import (
    MAX_NAME,
    GroupRef,
    UserRef,
    audit_user,
    clean_email,
    clean_text,
    default_group,
    load_group,
    load_user,
    managed_target,
    parse_role,
    save_audited,
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


def _email_taken(email: str) -> EmailTakenError:
    return EmailTakenError(f"A user with the email {email} already exists.", email=email)


async def _email_free(
    session: AnySession, email: str, *, except_id: uuid.UUID | None = None
) -> None:
    if await repository.email_exists(session, email, except_id=except_id):
        raise _email_taken(email)


async def _flush_unique_email(session: Session, email: str) -> None:
    """Flush, answering a race on the unique email as EmailTakenError."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise _email_taken(email) from None


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
    await _flush_unique_email(session, email)
    user.group = target_group
    await sync_primary(session, user)
    await audit_user(session, actor, "users.create", user, after=user_snapshot(user))
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
    target = await managed_target(session, actor, user, Manage.CREDENTIALS)
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
    before = user_snapshot(target)
    if email is not None:
        new_email = clean_email(email)
        if new_email != target.email:
            await _email_free(session, new_email, except_id=target.id)
            target.email = new_email
    if name is not None:
        target.name = clean_text(name, field="name", limit=MAX_NAME)
    await _flush_unique_email(session, target.email)
    after = user_snapshot(target)
    if after != before:
        await audit_user(session, actor, "users.update", target, before=before, after=after)
    return target


async def move_group(session: Session, actor: Actor, *, user: UserRef, group: GroupRef) -> User:
    """Move a user to another home group. Publishes `UserJoinedGroup`; writes an audit event."""
    require(actor, Permission.USERS_WRITE)
    target = await load_user(session, user)
    require_can_manage(actor, target, Manage.PROFILE)
    new_group = await load_group(session, group)
    if target.group_id == new_group.id:
        return target
    before = user_snapshot(target)
    target.group_id = new_group.id
    target.group = new_group
    await save_audited(
        session, actor, target, before, action="users.move_group", feed="users.group"
    )
    await sync_primary(session, target)
    await events.publish(session, UserJoinedGroup(user_id=target.id, group_id=new_group.id))
    return target
