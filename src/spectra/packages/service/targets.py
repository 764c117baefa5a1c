"""Whom an assignment reaches: users named by email or id, or a group's active members, looked
up through the users service (so an actor who may not read everyone cannot probe emails); and
whom a team lead may assign to or cancel for."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.packages import repository
from spectra.packages.errors import AssignmentTargetNotFoundError
from spectra.users import service as users_service
from spectra.users.models import Group, User
from spectra.users.permissions import Permission, PermissionDeniedError, allows
from spectra.users.scope import Scope, lead_groups_over, led_groups, require_over


async def resolve_users(
    session: AnySession,
    actor: Actor,
    *,
    emails: Sequence[str] = (),
    user_ids: Sequence[uuid.UUID] = (),
) -> list[User]:
    """Users named by email or id, in the order given; unknown ones are one clear error (a 403
    instead to an actor who may not read everyone, so emails cannot be probed)."""
    if not allows(actor, Permission.READ_ALL) and await led_groups(session, actor):
        return await _lead_resolves(session, actor, emails=emails, user_ids=user_ids)
    for email in emails:
        users_service.may_name(actor, email=email)
    for user_id in user_ids:
        users_service.may_name(actor, user_id=user_id)
    by_email = await users_service.users_by_email(session, emails)
    by_id = await users_service.users_by_id(session, user_ids)
    missing = [e for e in emails if e.strip().lower() not in by_email] + [
        str(i) for i in user_ids if i not in by_id
    ]
    if missing:
        raise AssignmentTargetNotFoundError(
            f"No user {', '.join(missing)}; `spectra users list` shows them.", missing=missing
        )
    seen: dict[uuid.UUID, User] = {}
    for user in [by_email[e.strip().lower()] for e in emails] + [by_id[i] for i in user_ids]:
        seen.setdefault(user.id, user)
    return list(seen.values())


async def _lead_resolves(
    session: AnySession, actor: Actor, *, emails: Sequence[str], user_ids: Sequence[uuid.UUID]
) -> list[User]:
    """`resolve_users` for a team lead: members of the groups they lead only; anyone else,
    known or not, is the role's refusal (`spectra.users.scope`)."""
    seen: dict[uuid.UUID, User] = {}
    for email in emails:
        user = await users_service.find_user(session, actor, email=email)
        assert user is not None  # find_user refuses an unknown email to a lead
        seen.setdefault(user.id, user)
    by_id = await users_service.users_by_id(session, user_ids)
    for user_id in user_ids:
        found = by_id.get(user_id)
        await require_over(session, actor, Permission.READ_ALL, found)
        assert found is not None
        seen.setdefault(found.id, found)
    return list(seen.values())


async def group_members(
    session: AnySession, actor: Actor, *, group: str
) -> tuple[Group, list[User]]:
    """A group named by name and its active members."""
    found = await users_service.find_group(session, actor, name=group)
    if found is None:
        raise AssignmentTargetNotFoundError(f"There is no group named '{group}'.", group=group)
    return found, list(await repository.group_members(session, found.id))


async def lead_may_handle(
    session: AnySession, actor: Actor, scope: Scope, user_id: uuid.UUID, package_id: uuid.UUID
) -> User:
    """A team lead assigns or cancels only the default package of a group they lead, for a
    member of that group (`spectra.users.scope`); the role's refusal otherwise."""
    user = (await users_service.users_by_id(session, [user_id])).get(user_id)
    await require_over(session, actor, Permission.PACKAGES_WRITE, user)
    assert user is not None
    for group_id in await lead_groups_over(session, scope, user, actor):
        default = await repository.get_group_default(session, group_id)
        if default is not None and default.package_id == package_id:
            return user
    raise PermissionDeniedError(
        "As a team lead you may assign or cancel only the default package of a group you lead; "
        "ask an admin for any other package."
    )
