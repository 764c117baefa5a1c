"""Groups (teams): create, update (including budgets), read."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.errors import InvalidAmountError
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.users import repository
from spectra.users.errors import BuiltinGroupError, GroupNameTakenError
from spectra.users.models import Group
from spectra.users.permissions import Permission, require
from spectra.users.scope import scope_for

from ._common import (
    MAX_DESCRIPTION,
    MAX_GROUP_NAME,
    GroupRef,
    as_uuid,
    clean_text,
    group_snapshot,
    load_group,
)
from .lookup import may_name_group

UNSET: object = object()
"""Marks a cap argument that was not given (None means "no cap")."""


def _check_cap(value: int | object | None, field: str) -> int | None:
    if value is not None and not isinstance(value, int):
        raise InvalidAmountError(f"{field} must be an amount.", field=field)
    if value is not None and value < 0:
        raise InvalidAmountError(f"{field} must not be negative.", field=field)
    return value


async def _name_free(session: AnySession, name: str, *, except_group: Group | None = None) -> None:
    if await repository.group_name_exists(
        session, name.lower(), except_id=except_group.id if except_group else None
    ):
        raise GroupNameTakenError(f"A group named '{name}' already exists.", name=name)


async def _flush(session: Session, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise GroupNameTakenError(f"A group named '{name}' already exists.", name=name) from None


async def create_group(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str = "",
    monthly_cap_micros: int | None = None,
    member_monthly_cap_micros: int | None = None,
) -> Group:
    """Create a group; names are unique regardless of case. Budgets need the budgets permission.

    Writes an audit event.
    """
    require(actor, Permission.USERS_WRITE)
    if monthly_cap_micros is not None or member_monthly_cap_micros is not None:
        require(actor, Permission.BUDGETS_WRITE)
    clean_name = clean_text(name, field="name", limit=MAX_GROUP_NAME, required=True)
    group = Group(
        name=clean_name,
        name_key=clean_name.lower(),
        description=clean_text(description, field="description", limit=MAX_DESCRIPTION),
        is_builtin=False,
        monthly_cap_micros=_check_cap(monthly_cap_micros, "monthly_cap"),
        member_monthly_cap_micros=_check_cap(member_monthly_cap_micros, "member_monthly_cap"),
    )
    await _name_free(session, clean_name)
    session.add(group)
    await _flush(session, clean_name)
    await audit_service.record_on(
        session, actor, "groups.create", "group", group, after=group_snapshot(group)
    )
    return group


async def update_group(
    session: Session,
    actor: Actor,
    *,
    group: GroupRef,
    name: str | None = None,
    description: str | None = None,
    monthly_cap_micros: int | object | None = UNSET,
    member_monthly_cap_micros: int | object | None = UNSET,
) -> Group:
    """Rename or describe a group (users permission) or set its budgets (budgets permission;
    None removes a cap). The built-in `default` group keeps its name. Writes an audit event.
    """
    changes_profile = name is not None or description is not None
    changes_budget = monthly_cap_micros is not UNSET or member_monthly_cap_micros is not UNSET
    if changes_profile or not changes_budget:
        require(actor, Permission.USERS_WRITE)
    if changes_budget:
        require(actor, Permission.BUDGETS_WRITE)
    target = await load_group(session, group)
    before = group_snapshot(target)
    if name is not None:
        clean_name = clean_text(name, field="name", limit=MAX_GROUP_NAME, required=True)
        if clean_name != target.name:
            if target.is_builtin:
                raise BuiltinGroupError(f"The built-in group '{target.name}' cannot be renamed.")
            await _name_free(session, clean_name, except_group=target)
            target.name = clean_name
            target.name_key = clean_name.lower()
    if description is not None:
        target.description = clean_text(description, field="description", limit=MAX_DESCRIPTION)
    if monthly_cap_micros is not UNSET:
        target.monthly_cap_micros = _check_cap(monthly_cap_micros, "monthly_cap")
    if member_monthly_cap_micros is not UNSET:
        target.member_monthly_cap_micros = _check_cap(
            member_monthly_cap_micros, "member_monthly_cap"
        )
    await _flush(session, target.name)
    after = group_snapshot(target)
    if after != before:
        await audit_service.record_on(
            session, actor, "groups.update", "group", target, before=before, after=after
        )
        await record_change(session, "groups.updated", target.id)
    return target


async def get_group(session: AnySession, actor: Actor, *, group: GroupRef) -> Group:
    """The group named by id or name; members may read their own group."""
    require(actor, Permission.SELF)
    group_id = as_uuid(group)
    await may_name_group(session, actor, group_id=group_id, name=None if group_id else str(group))
    target = await load_group(session, group)
    if actor.user_id is None or not await _is_member(session, actor, target):
        scope = await scope_for(session, actor, Permission.READ_ALL)
        if scope.groups is not None and target.id not in scope.groups:
            require(actor, Permission.READ_ALL)
    return target


async def _is_member(session: AnySession, actor: Actor, group: Group) -> bool:
    if actor.user_id is None:
        return False
    user = await repository.get_user(session, actor.user_id)
    return user is not None and user.group_id == group.id


async def list_groups(
    session: AnySession,
    actor: Actor,
    *,
    text: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    listing: ListQuery | None = None,
) -> Page[Group]:
    """Groups, oldest first (the built-in `default` first; a team lead sees the groups they
    lead); `page.extra["member_counts"]` maps
    each group id to its members that are not removed. With `listing`, one offset page in its
    sort and text filter instead."""
    scope = await scope_for(session, actor, Permission.READ_ALL)
    page = await repository.list_groups(
        session,
        text=text.strip()[:100] if text else None,
        limit=limit,
        cursor=cursor,
        ids=None if scope.groups is None else sorted(scope.groups),
        listing=listing,
    )
    page.extra["member_counts"] = await repository.member_counts(
        session, [g.id for g in page.items]
    )
    return page
