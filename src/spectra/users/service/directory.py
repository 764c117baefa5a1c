"""Directory provisioning (SCIM) reads and the one change of its own: a user's directory
identity (`externalId`, `userName`). Every other SCIM change is an ordinary users action."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.users import repository
from spectra.users.errors import DirectoryIdTakenError
from spectra.users.models import Group, User
from spectra.users.permissions import Manage, Permission, require, require_can_manage

from ._common import GroupRef, UserRef, audit_user, clean_text, load_group, load_user

MAX_EXTERNAL_ID = 200
MAX_USER_NAME = 320


async def list_directory_users(
    session: AnySession,
    actor: Actor,
    *,
    user_name: str | None = None,
    external_id: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[int, list[User]]:
    """Users that are not removed, oldest first, optionally by userName or externalId:
    (total, the page from `offset`)."""
    require(actor, Permission.READ_ALL)
    return await repository.directory_users(
        session, user_name=user_name, external_id=external_id, offset=offset, limit=limit
    )


async def list_directory_groups(
    session: AnySession,
    actor: Actor,
    *,
    display_name: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[int, list[Group]]:
    """Groups, oldest first, optionally by name: (total, the page from `offset`)."""
    require(actor, Permission.READ_ALL)
    return await repository.directory_groups(
        session, display_name=display_name, offset=offset, limit=limit
    )


async def group_members(
    session: Session, actor: Actor, *, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[User]]:
    """Each group's members that are not removed (a user's home group is their membership)."""
    require(actor, Permission.READ_ALL)
    return await repository.group_members(session, group_ids)


async def set_directory_identity(
    session: Session,
    actor: Actor,
    *,
    user: UserRef,
    external_id: str | None,
    user_name: str | None,
) -> User:
    """Set the identity provider's `externalId` and `userName` of a user (None clears; a
    userName equal to the email is stored as None). Both are unique. Audited when it changes."""
    require(actor, Permission.USERS_WRITE)
    target = await load_user(session, user)
    require_can_manage(actor, target, Manage.PROFILE)
    ext = (
        clean_text(external_id, field="externalId", limit=MAX_EXTERNAL_ID) if external_id else None
    )
    name = clean_text(user_name, field="userName", limit=MAX_USER_NAME) if user_name else None
    if name is not None and name.lower() == target.email:
        name = None
    before = {"external_id": target.external_id, "user_name": target.scim_user_name}
    after = {"external_id": ext or None, "user_name": name}
    if after == before:
        return target
    if await repository.directory_id_taken(
        session, external_id=ext or None, user_name=name, except_id=target.id
    ):
        raise DirectoryIdTakenError(
            "Another user already has this userName or externalId.",
            external_id=ext,
            user_name=name,
        )
    target.external_id = ext or None
    target.scim_user_name = name
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise DirectoryIdTakenError(
            "Another user already has this userName or externalId.",
            external_id=ext,
            user_name=name,
        ) from None
    await audit_user(
        session, actor, "users.set_directory_identity", target, before=before, after=after
    )
    return target


async def set_group_external_id(
    session: Session, actor: Actor, *, group: GroupRef, external_id: str | None
) -> Group:
    """Set the identity provider's `externalId` of a group (None clears; unique). Audited when
    it changes."""
    require(actor, Permission.USERS_WRITE)
    target = await load_group(session, group)
    ext = (
        clean_text(external_id, field="externalId", limit=MAX_EXTERNAL_ID) if external_id else None
    )
    if (ext or None) == target.external_id:
        return target
    before = {"external_id": target.external_id}
    target.external_id = ext or None
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise DirectoryIdTakenError(
            "Another group already has this externalId.", external_id=ext
        ) from None
    await audit_service.record_on(
        session,
        actor,
        "groups.set_directory_identity",
        "group",
        target,
        before=before,
        after={"external_id": target.external_id},
    )
    return target
