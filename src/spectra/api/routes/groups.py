"""/api/groups: teams and their budgets. A group is named in the path by id or by name."""

from __future__ import annotations

from fastapi import APIRouter, Query

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.kit.pagination import ListResource
from spectra.users import service as users_service
from spectra.users.models import Group
from spectra.users.schemas import GroupCreate, GroupRead, GroupUpdate, LeadRead, LeadSet

router = APIRouter(prefix="/groups", tags=["groups"])


def _counted(group: Group, member_count: int) -> GroupRead:
    read = GroupRead.model_validate(group)
    read.member_count = member_count
    return read


@router.get("")
async def list_groups(
    session: ReadSessionDep,
    actor: ActorDep,
    q: str | None = Query(default=None, max_length=100),
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[GroupRead]:
    page = await users_service.list_groups(session, actor, text=q, limit=limit, cursor=cursor)
    counts = page.extra.get("member_counts", {})
    items = [_counted(g, counts.get(g.id, 0)) for g in page.items]
    return ListResource(items=items, next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create_group(body: GroupCreate, session: SessionDep, actor: ActorDep) -> GroupRead:
    """Create a group; budgets (`monthly_cap`, `member_monthly_cap`) are decimal amounts."""
    group = await users_service.create_group(
        session,
        actor,
        name=body.name,
        description=body.description,
        monthly_cap_micros=body.monthly_cap,
        member_monthly_cap_micros=body.member_monthly_cap,
    )
    return _counted(group, 0)


@router.get("/{group_ref}")
async def get_group(group_ref: str, session: ReadSessionDep, actor: ActorDep) -> GroupRead:
    return GroupRead.model_validate(await users_service.get_group(session, actor, group=group_ref))


@router.patch("/{group_ref}")
async def update_group(
    group_ref: str, body: GroupUpdate, session: SessionDep, actor: ActorDep
) -> GroupRead:
    """Change only the fields sent; `null` for a cap removes it."""
    sent = body.model_fields_set
    group = await users_service.update_group(
        session,
        actor,
        group=group_ref,
        name=body.name,
        description=body.description,
        monthly_cap_micros=body.monthly_cap if "monthly_cap" in sent else users_service.UNSET,
        member_monthly_cap_micros=body.member_monthly_cap
        if "member_monthly_cap" in sent
        else users_service.UNSET,
    )
    return GroupRead.model_validate(group)


@router.get("/{group_ref}/leads")
async def list_leads(
    group_ref: str, session: ReadSessionDep, actor: ActorDep
) -> ListResource[LeadRead]:
    """The group's team leads and their approval limits (admins, and the group's own leads)."""
    page = await users_service.list_leads(session, actor, group=group_ref)
    return ListResource[LeadRead].model_validate(page)


@router.put("/{group_ref}/leads/{user_ref}")
async def set_lead(
    group_ref: str, user_ref: str, body: LeadSet, session: SessionDep, actor: ActorDep
) -> LeadRead:
    """Make a member of the group its lead, or change their approval limit."""
    lead = await users_service.set_lead(
        session, actor, group=group_ref, user=user_ref, approval_limit_micros=body.approval_limit
    )
    return LeadRead.model_validate(lead)


@router.delete("/{group_ref}/leads/{user_ref}", status_code=204)
async def remove_lead(group_ref: str, user_ref: str, session: SessionDep, actor: ActorDep) -> None:
    await users_service.remove_lead(session, actor, group=group_ref, user=user_ref)
