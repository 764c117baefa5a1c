"""Spectra users and groups as SCIM resources (scim2-models), and back: a desired resource
becomes a sequence of ordinary users actions (audited, as the SCIM token's actor)."""

from __future__ import annotations

import re
from typing import Any

from scim2_models import (
    Context,
    Email,
    Group,
    GroupMember,
    GroupMembership,
    Meta,
    Name,
    ResponseParameters,
    User,
)

from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.users import models
from spectra.users import service as users_service
from spectra.users.errors import UserNotFoundError
from spectra.users.models import DEFAULT_GROUP

from .errors import ScimInvalidError

ScimUser = User[Any]
ScimGroup = Group
Shown = ResponseParameters[Any]

DEPROVISION_REASON = "Deprovisioned by the identity provider (SCIM)."
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_LIVE = ("active", "invited")


def user_resource(
    user: models.User, base: str, memberships: list[users_service.MembershipView]
) -> ScimUser:
    """The SCIM view of a user; `groups` lists every group they belong to, the primary one
    first (read-only in SCIM: memberships change through the Group resource)."""
    return User(
        id=str(user.id),
        external_id=user.external_id,
        user_name=user.scim_user_name or user.email,
        display_name=user.name or None,
        name=Name(formatted=user.name) if user.name else None,
        emails=[Email(value=user.email)],
        active=user.status in _LIVE,
        groups=[
            GroupMembership(
                value=str(m.group_id),
                display=m.group,
                ref=f"{base}/Groups/{m.group_id}",
                type="direct",
            )
            for m in memberships
        ],
        meta=Meta(
            resource_type="User",
            created=user.created_at,
            last_modified=user.updated_at,
            location=f"{base}/Users/{user.id}",
        ),
    )


def group_resource(group: models.Group, members: list[models.User], base: str) -> ScimGroup:
    return Group(
        id=str(group.id),
        external_id=group.external_id,
        display_name=group.name,
        members=[GroupMember(value=str(u.id), ref=f"{base}/Users/{u.id}") for u in members] or None,
        meta=Meta(
            resource_type="Group",
            created=group.created_at,
            last_modified=group.updated_at,
            location=f"{base}/Groups/{group.id}",
        ),
    )


def dump(
    resource: ScimUser | ScimGroup,
    ctx: Context = Context.RESOURCE_QUERY_RESPONSE,
    shown: Shown | None = None,
) -> dict[str, Any]:
    """The resource as JSON, with only the attributes the client asked for (RFC 7644 §3.4.2.5)."""
    return resource.model_dump(scim_ctx=ctx, response_parameters=shown)


def _email_of(resource: ScimUser) -> str | None:
    emails = resource.emails or []
    chosen = next((e for e in emails if e.primary and e.value), None) or next(
        (e for e in emails if e.value), None
    )
    if chosen is not None and chosen.value:
        return str(chosen.value)
    if resource.user_name and _EMAIL.match(resource.user_name):
        return resource.user_name
    return None


def _name_of(resource: ScimUser) -> str | None:
    if resource.display_name:
        return resource.display_name
    if resource.name is None:
        return None
    if resource.name.formatted:
        return resource.name.formatted
    parts = [resource.name.given_name, resource.name.family_name]
    return " ".join(p for p in parts if p) or None


async def create_user(session: Session, actor: Actor, wanted: ScimUser) -> models.User:
    """Create a member in the default group from a SCIM User: the email is the primary email,
    else a userName that is an email."""
    email = _email_of(wanted)
    if email is None:
        raise ScimInvalidError(
            "Spectra needs an email: send emails (primary) or a userName that is an email."
        )
    user = await users_service.create_user(session, actor, email=email, name=_name_of(wanted) or "")
    await users_service.set_directory_identity(
        session, actor, user=user.id, external_id=wanted.external_id, user_name=wanted.user_name
    )
    if wanted.active is False:
        await users_service.suspend_user(session, actor, user=user.id, reason=DEPROVISION_REASON)
    return await users_service.get_user(session, actor, user=user.id)


async def apply_user(
    session: Session, actor: Actor, user: models.User, before: ScimUser, wanted: ScimUser
) -> models.User:
    """Bring `user` from `before` (its SCIM view) to `wanted`, through the users service:
    profile, directory identity, then status (active=false suspends; true reactivates)."""
    email = _email_of(wanted) if wanted.emails != before.emails else None
    name = _changed_name(before, wanted)
    if (email is not None and email != user.email) or (name is not None and name != user.name):
        await users_service.update_user(session, actor, user=user.id, email=email, name=name)
    await users_service.set_directory_identity(
        session, actor, user=user.id, external_id=wanted.external_id, user_name=wanted.user_name
    )
    user = await users_service.get_user(session, actor, user=user.id)
    if wanted.active is False and user.status in _LIVE:
        await users_service.suspend_user(session, actor, user=user.id, reason=DEPROVISION_REASON)
    elif wanted.active is True and user.status == "suspended":
        await users_service.reactivate_user(session, actor, user=user.id)
    return await users_service.get_user(session, actor, user=user.id)


def _changed_name(before: ScimUser, wanted: ScimUser) -> str | None:
    if wanted.display_name != before.display_name:
        return wanted.display_name or ""
    if wanted.name != before.name:
        return _name_of(wanted.model_copy(update={"display_name": None})) or ""
    return None


async def apply_members(
    session: Session,
    actor: Actor,
    group: models.Group,
    current: list[models.User],
    wanted: ScimGroup,
) -> None:
    """Make the group's members those of `wanted` (the group's default package follows a user
    who joins, as today). The rule for several groups (docs/identity.md): a user's FIRST group
    from the directory becomes their primary group (they leave `default` for it); each further
    group is added as a secondary group. Taken out of their primary group, a user's oldest
    secondary group becomes primary (or `default` when they have none); taken out of a
    secondary group, they just leave it."""
    wanted_ids = {m.value for m in wanted.members or [] if m.value}
    current_ids = {str(u.id) for u in current}
    for user_id in sorted(wanted_ids - current_ids):
        target = await _member(session, actor, user_id)
        if target.group.is_builtin:
            await users_service.move_group(session, actor, user=target.id, group=group.id)
        else:
            await users_service.add_membership(session, actor, user=target.id, group=group.id)
    if group.is_builtin:
        return
    for user in current:
        if str(user.id) in wanted_ids:
            continue
        if user.group_id != group.id:
            await users_service.remove_membership(session, actor, user=user.id, group=group.id)
            continue
        others = [
            m
            for m in (await users_service.list_memberships(session, actor, user=user.id)).items
            if not m.is_primary
        ]
        await users_service.move_group(
            session, actor, user=user.id, group=others[0].group_id if others else DEFAULT_GROUP
        )


async def _member(session: Session, actor: Actor, user_id: str) -> models.User:
    try:
        user = await users_service.get_user(session, actor, user=user_id)
    except UserNotFoundError:
        user = None
    if user is None or user.status == "removed" or "@" in user_id:
        raise ScimInvalidError(f"No user has the id {user_id!r}.", scim_type="invalidValue")
    return user
