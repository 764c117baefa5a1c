"""Team leads of a group (appointed by an admin) and a user's secondary groups."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db import events
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.errors import ConflictError, InvalidAmountError, NotFoundError
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.users.events import UserJoinedGroup
from spectra.users.models import Group, GroupLead, GroupMembership, User
from spectra.users.permissions import Permission, require
from spectra.users.scope import require_over, scope_for

from ._common import GroupRef, UserRef, audit_user, load_group, load_user
from .lookup import may_name_group


class LeadNotFoundError(NotFoundError):
    code = "lead_not_found"


class MembershipNotFoundError(NotFoundError):
    code = "membership_not_found"


class PrimaryMembershipError(ConflictError):
    code = "primary_membership"


class MemberOfGroupError(ConflictError):
    code = "already_member"


@dataclass(frozen=True, slots=True)
class LeadView:
    """A lead of a group, for reading."""

    user_id: uuid.UUID
    email: str
    group_id: uuid.UUID
    group: str
    approval_limit_micros: int
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class MembershipView:
    group_id: uuid.UUID
    group: str
    is_primary: bool


def _lead_snapshot(user: User, group: Group, limit: int) -> dict[str, object]:
    return {
        "user": user.email,
        "group": group.name,
        "approval_limit_micros": limit,
        "approval_limit": format_amount(limit),
    }


async def _audit_group(
    session: Session,
    actor: Actor,
    action: str,
    group: Group,
    *,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    await audit_service.record_on(
        session, actor, action, "group", group, before=before, after=after
    )


async def set_lead(
    session: Session,
    actor: Actor,
    *,
    group: GroupRef,
    user: UserRef,
    approval_limit_micros: int = 0,
) -> LeadView:
    """Make `user` a lead of `group` (or change their approval limit). The user must belong to
    the group. Admins only (a lead cannot appoint leads). Writes an audit event."""
    require(actor, Permission.USERS_WRITE)
    if approval_limit_micros < 0:
        raise InvalidAmountError("approval_limit must not be negative.", field="approval_limit")
    target_group = await load_group(session, group)
    target = await load_user(session, user)
    if target_group.id not in await _groups_of(session, target):
        raise MembershipNotFoundError(
            f"{target.email} is not in the group {target_group.name}; add them to it first "
            f"(spectra users groups add {target.email} {target_group.name}).",
            group=target_group.name,
        )
    row = await _lead_row(session, target.id, target_group.id)
    before = _lead_snapshot(target, target_group, row.approval_limit_micros) if row else None
    if row is None:
        row = GroupLead(
            user_id=target.id,
            group_id=target_group.id,
            approval_limit_micros=approval_limit_micros,
            created_by=actor.label,
        )
        session.add(row)
    else:
        row.approval_limit_micros = approval_limit_micros
    await session.flush()
    after = _lead_snapshot(target, target_group, approval_limit_micros)
    if after != before:
        await _audit_group(
            session, actor, "groups.lead_set", target_group, before=before, after=after
        )
    return _view(row, target, target_group)


async def remove_lead(session: Session, actor: Actor, *, group: GroupRef, user: UserRef) -> None:
    """`user` no longer leads `group`. Admins only. Writes an audit event."""
    require(actor, Permission.USERS_WRITE)
    target_group = await load_group(session, group)
    target = await load_user(session, user)
    row = await _lead_row(session, target.id, target_group.id)
    if row is None:
        raise LeadNotFoundError(
            f"{target.email} does not lead {target_group.name}.", group=target_group.name
        )
    before = _lead_snapshot(target, target_group, row.approval_limit_micros)
    await session.delete(row)
    await session.flush()
    await _audit_group(session, actor, "groups.lead_remove", target_group, before=before)


async def list_leads(session: AnySession, actor: Actor, *, group: GroupRef) -> Page[LeadView]:
    """The leads of `group`: for readers of everything, and for the group's own leads."""
    scope = await scope_for(session, actor, Permission.READ_ALL)
    target_group = await _scoped_group(session, actor, group, scope.groups)
    rows = await session.execute(
        select(GroupLead, User)
        .join(User, User.id == GroupLead.user_id)
        .where(GroupLead.group_id == target_group.id)
        .order_by(User.email)
    )
    return Page(items=[_view(lead, user, target_group) for lead, user in rows.all()])


async def _scoped_group(
    session: AnySession, actor: Actor, ref: GroupRef, groups: frozenset[uuid.UUID] | None
) -> Group:
    """The group, when `groups` is None (everywhere) or it is one of them; the role's refusal
    otherwise, the same for an unknown name (anti-probing)."""
    if groups is None:
        return await load_group(session, ref)
    try:
        found = await load_group(session, ref)
    except NotFoundError:
        found = None
    if found is None or found.id not in groups:
        await may_name_group(session, actor, name=str(ref))  # raises the role's refusal
        raise AssertionError("may_name_group refuses a lead naming a group they do not lead")
    return found


async def lead_groups_page(session: AnySession, actor: Actor) -> list[Group]:
    """The groups `actor` may see as groups: all for readers of everything, else the led ones."""
    scope = await scope_for(session, actor, Permission.READ_ALL)
    stmt = select(Group).order_by(Group.created_at, Group.id)
    if scope.groups is not None:
        stmt = stmt.where(Group.id.in_(list(scope.groups)))
    return list((await session.execute(stmt)).scalars())


async def group_for(session: AnySession, actor: Actor, *, group: GroupRef) -> Group:
    """One group, for readers of everything or its leads (see `_scoped_group`)."""
    scope = await scope_for(session, actor, Permission.READ_ALL)
    return await _scoped_group(session, actor, group, scope.groups)


def _view(row: GroupLead, user: User, group: Group) -> LeadView:
    return LeadView(
        user_id=user.id,
        email=user.email,
        group_id=group.id,
        group=group.name,
        approval_limit_micros=row.approval_limit_micros,
        created_at=row.created_at,
        created_by=row.created_by,
    )


async def _lead_row(
    session: AnySession, user_id: uuid.UUID, group_id: uuid.UUID
) -> GroupLead | None:
    return (
        await session.execute(
            select(GroupLead).where(GroupLead.user_id == user_id, GroupLead.group_id == group_id)
        )
    ).scalar_one_or_none()


async def _groups_of(session: AnySession, user: User) -> set[uuid.UUID]:
    rows = await session.execute(
        select(GroupMembership.group_id).where(GroupMembership.user_id == user.id)
    )
    return {user.group_id, *rows.scalars()}


# --- several groups per user -----------------------------------------------------------------


async def sync_primary(session: Session, user: User) -> None:
    """Keep the membership table's primary row equal to `users.group_id` (called wherever the
    home group is set: creation, moves, SCIM): the old primary membership ends, a secondary
    membership of the new home group becomes the primary one."""
    await session.execute(
        delete(GroupMembership).where(
            GroupMembership.user_id == user.id,
            GroupMembership.is_primary.is_(True),
            GroupMembership.group_id != user.group_id,
        )
    )
    row = (
        await session.execute(
            select(GroupMembership).where(
                GroupMembership.user_id == user.id, GroupMembership.group_id == user.group_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        session.add(GroupMembership(user_id=user.id, group_id=user.group_id, is_primary=True))
    else:
        row.is_primary = True
    await session.flush()


async def list_memberships(
    session: AnySession, actor: Actor, *, user: UserRef
) -> Page[MembershipView]:
    """A user's groups: the primary first, then the secondary ones, oldest first (for the user
    themselves, readers of everything and their leads)."""
    from .lookup import get_user

    target = await get_user(session, actor, user=user)
    return Page(items=(await _memberships(session, [target]))[target.id])


async def memberships_of(
    session: AnySession, actor: Actor, *, users: Sequence[User]
) -> dict[uuid.UUID, list[MembershipView]]:
    """Each user's groups, as `list_memberships` orders them, in one query (a SCIM page of
    users shows every user's groups). For readers of everything."""
    require(actor, Permission.READ_ALL)
    return await _memberships(session, users)


async def _memberships(
    session: AnySession, users: Sequence[User]
) -> dict[uuid.UUID, list[MembershipView]]:
    found = {u.id: [MembershipView(u.group_id, u.group.name, True)] for u in users}
    if not users:
        return found
    rows = await session.execute(
        select(GroupMembership.user_id, Group)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(GroupMembership.user_id.in_(list(found)))
        .order_by(GroupMembership.created_at, GroupMembership.id)
    )
    homes = {u.id: u.group_id for u in users}
    for user_id, group in rows.all():
        if group.id != homes[user_id]:
            found[user_id].append(MembershipView(group.id, group.name, False))
    return found


async def add_membership(
    session: Session, actor: Actor, *, user: UserRef, group: GroupRef
) -> MembershipView:
    """Add `user` to `group` as a secondary group (their primary group still funds by default).
    Publishes `UserJoinedGroup` (the group's default package applies); writes an audit event."""
    require(actor, Permission.USERS_WRITE)
    target = await load_user(session, user)
    await require_over(session, actor, Permission.USERS_WRITE, target)
    target_group = await load_group(session, group)
    if target_group.id in await _groups_of(session, target):
        raise MemberOfGroupError(
            f"{target.email} is already in {target_group.name}.", group=target_group.name
        )
    session.add(GroupMembership(user_id=target.id, group_id=target_group.id, is_primary=False))
    await session.flush()
    await audit_user(session, actor, "users.add_group", target, after={"group": target_group.name})
    await events.publish(session, UserJoinedGroup(user_id=target.id, group_id=target_group.id))
    await record_change(session, "users.group", target.id)
    return MembershipView(target_group.id, target_group.name, False)


async def remove_membership(
    session: Session, actor: Actor, *, user: UserRef, group: GroupRef
) -> None:
    """Take `user` out of a secondary group (never the primary one: move them instead). Their
    keys bound to it fall back to the primary group (the key cache joins the membership), and
    a lead of it stops leading it. Writes
    an audit event."""
    require(actor, Permission.USERS_WRITE)
    target = await load_user(session, user)
    target_group = await load_group(session, group)
    if target_group.id == target.group_id:
        raise PrimaryMembershipError(
            f"{target_group.name} is the primary group of {target.email}; move them to another "
            "group instead.",
            group=target_group.name,
        )
    found = await session.execute(
        delete(GroupMembership).where(
            GroupMembership.user_id == target.id, GroupMembership.group_id == target_group.id
        )
    )
    if not found.rowcount:  # type: ignore[attr-defined]
        raise MembershipNotFoundError(
            f"{target.email} is not in {target_group.name}.", group=target_group.name
        )
    await session.execute(
        delete(GroupLead).where(
            GroupLead.user_id == target.id, GroupLead.group_id == target_group.id
        )
    )
    await audit_user(
        session, actor, "users.remove_group", target, before={"group": target_group.name}
    )
    await record_change(session, "users.group", target.id)


async def group_of_user(session: AnySession, user: User, group: GroupRef) -> Group:
    """One of `user`'s groups by name or id (for binding a key to it), or a clear refusal."""
    found = await load_group(session, group)
    if found.id not in await _groups_of(session, user):
        raise MembershipNotFoundError(
            f"{user.email} is not in the group {found.name}; a key can be bound only to one of "
            "its owner's groups.",
            group=found.name,
        )
    return found
