"""Looking users and groups up by email or name, for every domain and surface, with the rule
that keeps emails from being probed: an actor who may not read everyone may name only themselves
(and their own group); any other name is refused (403) before the lookup, so an unknown email
answers exactly like a known one, never "not found" (404)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.users import repository
from spectra.users.errors import GroupNotFoundError, UserNotFoundError
from spectra.users.models import Group, User
from spectra.users.permissions import Permission, allows, require
from spectra.users.scope import led_groups, member_ids_in, require_over, require_user_ref, scope_for

from ._common import GroupRef, UserRef, as_uuid, load_group, load_user, parse_role, parse_status


def may_name(actor: Actor, *, email: str | None = None, user_id: uuid.UUID | None = None) -> None:
    """Refuse an actor who may not read everyone naming any user but themselves, before any
    lookup, with the same `read.all` refusal whether or not that user exists."""
    if allows(actor, Permission.READ_ALL):
        return
    if actor.user_id is not None and (
        user_id == actor.user_id
        or (email is not None and email.strip().lower() == actor.label.strip().lower())
    ):
        return
    require(actor, Permission.READ_ALL)


async def may_name_group(
    session: AnySession, actor: Actor, *, name: str | None = None, group_id: uuid.UUID | None = None
) -> None:
    """`may_name` for groups: besides those who may read everyone, a member may name their own."""
    if allows(actor, Permission.READ_ALL):
        return
    me = await repository.get_user(session, actor.user_id) if actor.user_id else None
    if me is not None and (
        group_id == me.group_id or (name is not None and name.strip().lower() == me.group.name_key)
    ):
        return
    led = await led_groups(session, actor)
    if led and group_id is None and name is not None:
        found = await repository.find_group_by_name(session, name)
        group_id = found.id if found else None
    if group_id is not None and group_id in led:
        return
    require(actor, Permission.READ_ALL)


async def find_user(session: AnySession, actor: Actor, *, email: str) -> User | None:
    """The user with this email (group loaded), or None. See `may_name`: an actor who may not
    read everyone can only name themselves, so whether an email exists cannot be probed."""
    if not allows(actor, Permission.READ_ALL) and not _names_self(actor, email=email):
        return await _lead_finds(session, actor, email)
    may_name(actor, email=email)
    return await repository.find_user_by_email(session, email.strip().lower())


def _names_self(
    actor: Actor, *, email: str | None = None, user_id: uuid.UUID | None = None
) -> bool:
    return actor.user_id is not None and (
        user_id == actor.user_id
        or (email is not None and email.strip().lower() == actor.label.strip().lower())
    )


async def _lead_finds(session: AnySession, actor: Actor, email: str) -> User:
    """A lead naming a user: a member of a group they lead, or the role's refusal (the same
    for an unknown email: see `spectra.users.scope`)."""
    user = await repository.find_user_by_email(session, email.strip().lower())
    await require_over(session, actor, Permission.READ_ALL, user)
    assert user is not None  # require_over refuses None for a lead
    return user


async def find_group(session: AnySession, actor: Actor, *, name: str) -> Group | None:
    """The group with this name (case-insensitive), or None; see `may_name_group`."""
    await may_name_group(session, actor, name=name)
    return await repository.find_group_by_name(session, name)


async def require_user(session: AnySession, actor: Actor, *, email: str) -> User:
    """The user with this email, or UserNotFoundError (to those who may read everyone)."""
    user = await find_user(session, actor, email=email)
    if user is None:
        raise UserNotFoundError(
            f"No user has the email {email.strip()[:320]}.", user=email.strip()[:320]
        )
    return user


async def require_group(session: AnySession, actor: Actor, *, name: str) -> Group:
    """The group with this name, or GroupNotFoundError (to those who may read everyone)."""
    group = await find_group(session, actor, name=name)
    if group is None:
        raise GroupNotFoundError(f"No group is named {name.strip()[:100]}.", group=name[:100])
    return group


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose wallet, keys, usage or statement: a user or a group, by id."""

    user_id: uuid.UUID | None
    group_id: uuid.UUID | None


async def resolve_owner(
    session: AnySession,
    actor: Actor,
    *,
    user_email: str | None = None,
    group_name: str | None = None,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
) -> Owner:
    """Turn an email or a group name (as typed in a form or on the command line) into ids; ids
    given pass through. Names follow `may_name`'s rule."""
    if user_email is not None:
        user_id = (await require_user(session, actor, email=user_email)).id
    if group_name is not None:
        group_id = (await require_group(session, actor, name=group_name)).id
    return Owner(user_id=user_id, group_id=group_id)


async def users_by_email(session: AnySession, emails: Iterable[str]) -> dict[str, User]:
    """Users by lower-cased email, for bulk actions whose permission the caller checked."""
    return await repository.users_by_email(session, {e.strip().lower() for e in emails})


async def users_by_id(session: AnySession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, User]:
    """Users by id, for bulk actions and display whose permission the caller checked."""
    return await repository.users_by_id(session, set(ids))


async def user_emails(
    session: AnySession, user_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """Emails by user id, for display beside rows the caller may already read."""
    return {
        user_id: user.email
        for user_id, user in (
            await users_by_id(session, {u for u in user_ids if u is not None})
        ).items()
    }


def _require_read(actor: Actor, target_id: uuid.UUID | None) -> None:
    if target_id is not None and actor.user_id == target_id:
        require(actor, Permission.SELF)
    else:
        require(actor, Permission.READ_ALL)


async def get_user(session: AnySession, actor: Actor, *, user: UserRef) -> User:
    """The user named by id or email; a user may read themselves, others need read access."""
    require(actor, Permission.SELF)
    user_id = as_uuid(user)
    email = None if user_id else str(user)
    if not allows(actor, Permission.READ_ALL) and not _names_self(
        actor, email=email, user_id=user_id
    ):
        target, _ = await require_user_ref(
            session, actor, Permission.READ_ALL, lambda: load_user(session, user)
        )
        return target
    may_name(actor, user_id=user_id, email=email)
    target = await load_user(session, user)
    _require_read(actor, target.id)
    return target


async def find_user_by_email(session: AnySession, actor: Actor, *, email: str) -> User | None:
    require(actor, Permission.READ_ALL)
    return await repository.find_user_by_email(session, email.strip().lower())


def these_users(*user_ids: uuid.UUID) -> Select[Any]:
    """Subquery: exactly these user ids (for `list_users(excluding=...)`: everyone but the
    viewer)."""
    return select(User.id).where(User.id.in_(user_ids))


async def list_users(
    session: AnySession,
    actor: Actor,
    *,
    status: str | None = None,
    role: str | None = None,
    group: GroupRef | None = None,
    text: str | None = None,
    among: Sequence[Select[Any]] = (),
    excluding: Sequence[Select[Any]] = (),
    limit: int | None = None,
    cursor: str | None = None,
    listing: ListQuery | None = None,
) -> Page[User]:
    """Users, newest first, filtered by status, role, group and text (email or name); a team
    lead sees the members of the groups they lead, nobody else. With `listing`, one offset
    page in its sort (and its text, where `text` is not given) instead.
    `among` / `excluding` are subqueries of user ids from a higher domain's filter (the holders
    of a package, wallets below a balance), applied in the same paginated query."""
    scope = await scope_for(session, actor, Permission.READ_ALL)
    if group:
        await may_name_group(
            session, actor, group_id=as_uuid(group), name=None if as_uuid(group) else str(group)
        )
    group_id = (await load_group(session, group)).id if group else None
    if scope.groups is not None:
        among = [*among, member_ids_in(scope.groups)]
    return await repository.list_users(
        session,
        status=parse_status(status) if status else None,
        role=parse_role(role).value if role else None,
        group_id=group_id,
        text=text.strip()[:200] if text else None,
        limit=limit,
        cursor=cursor,
        among=among,
        excluding=excluding,
        listing=listing,
    )
