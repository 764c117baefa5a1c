"""Looking users and groups up by email or name, for every domain and surface, with the rule
that keeps emails from being probed: an actor who may not read everyone may name only themselves
(and their own group); any other name is refused (403) before the lookup, so an unknown email
answers exactly like a known one, never "not found" (404)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.users import repository
from spectra.users.errors import GroupNotFoundError, UserNotFoundError
from spectra.users.models import Group, User
from spectra.users.permissions import Permission, allows, require


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
    require(actor, Permission.READ_ALL)


async def find_user(session: AnySession, actor: Actor, *, email: str) -> User | None:
    """The user with this email (group loaded), or None. See `may_name`: an actor who may not
    read everyone can only name themselves, so whether an email exists cannot be probed."""
    may_name(actor, email=email)
    return await repository.find_user_by_email(session, email.strip().lower())


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
