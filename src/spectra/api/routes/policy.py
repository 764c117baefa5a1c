"""/api/policy: explain the access decision (the gateway's own function and trace), a group's
policy, the funding switches, and policy drafts (draft -> dry-run -> publish)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.kit.pagination import ListResource
from spectra.policy import drafts as drafts_service
from spectra.policy import service as policy_service
from spectra.policy.reads import DecisionRead, DraftRead, GroupFundingRead, GroupPolicyRead
from spectra.policy.schemas import GroupPolicyChange

router = APIRouter(prefix="/policy", tags=["policy"])


class GroupFundingUpdate(BaseModel):
    wallet_fallback: bool | None = None
    group_wallet_fallback: bool | None = None


@router.get("/explain")
async def explain(
    session: ReadSessionDep,
    actor: ActorDep,
    user: str,
    model: str,
    key_id: uuid.UUID | None = None,
    client: str | None = None,
    protocol: str | None = None,
    project: str | None = None,
) -> DecisionRead:
    """The decision the gateway would make for `user` and `model` now, and its trace.

    The trace ends with the `pool` step: which accounts could serve the model for a caller
    speaking `protocol` (anthropic_messages, openai_chat, openai_responses; any when absent)
    and why the others are skipped (`inputs.accounts`). With `project`, as if the request
    named that project in `x-spectra-project`."""
    decision = await policy_service.explain(
        session,
        actor,
        user=user,
        model=model,
        key_id=key_id,
        client=client,
        protocol=protocol,
        project=project,
    )
    return DecisionRead.model_validate(decision)


@router.get("/groups/{group}")
async def get_group_policy(group: str, session: ReadSessionDep, actor: ActorDep) -> GroupPolicyRead:
    """The group's whole policy, its caps with this month's spend, and its default package."""
    return GroupPolicyRead.model_validate(
        await policy_service.get_group_policy(session, actor, group=group)
    )


@router.patch("/groups/{group}")
async def set_group_funding(
    group: str, body: GroupFundingUpdate, session: SessionDep, actor: ActorDep
) -> GroupFundingRead:
    row = await policy_service.set_group_funding(
        session,
        actor,
        group=group,
        wallet_fallback=body.wallet_fallback,
        group_wallet_fallback=body.group_wallet_fallback,
    )
    return GroupFundingRead.model_validate(row)


class DraftCreate(BaseModel):
    """Either `group` + `changes`, or `rollout` (+ `cohort`, the next one by default)."""

    model_config = ConfigDict(extra="forbid")

    group: str | None = None
    changes: GroupPolicyChange | None = None
    rollout: str | None = None
    cohort: str | None = None


class DryRunCreate(BaseModel):
    days: int = Field(default=7, ge=1, le=drafts_service.MAX_DAYS)


class PublishCreate(BaseModel):
    confirm_without_dry_run: bool = False


@router.post("/drafts", status_code=201)
async def create_draft(body: DraftCreate, session: SessionDep, actor: ActorDep) -> DraftRead:
    draft = await drafts_service.create_draft(
        session,
        actor,
        group=body.group,
        change=body.changes,
        rollout=body.rollout,
        cohort=body.cohort,
    )
    return DraftRead.model_validate(drafts_service.draft_view(draft))


@router.get("/drafts")
async def list_drafts(
    session: ReadSessionDep,
    actor: ActorDep,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[DraftRead]:
    page = await drafts_service.list_drafts(
        session, actor, status=status, limit=limit, cursor=cursor
    )
    return ListResource[DraftRead].model_validate(
        {
            "items": [drafts_service.draft_view(d, full=False) for d in page.items],
            "next_cursor": page.next_cursor,
        }
    )


@router.get("/drafts/{draft_id}")
async def get_draft(draft_id: uuid.UUID, session: ReadSessionDep, actor: ActorDep) -> DraftRead:
    draft = await drafts_service.get_draft(session, actor, draft_id=draft_id)
    return DraftRead.model_validate(drafts_service.draft_view(draft))


@router.post("/drafts/{draft_id}/dry-run")
async def dry_run(
    draft_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: DryRunCreate | None = None
) -> DraftRead:
    """Evaluate the draft against the last `days` days of requests; the result is stored."""
    days = body.days if body is not None else 7
    draft = await drafts_service.dry_run(session, actor, draft_id=draft_id, days=days)
    return DraftRead.model_validate(drafts_service.draft_view(draft))


@router.post("/drafts/{draft_id}/publish")
async def publish_draft(
    draft_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: PublishCreate | None = None
) -> DraftRead:
    """Apply the draft; 409 `dry_run_required` unless dry-run or `confirm_without_dry_run`."""
    draft = await drafts_service.publish_draft(
        session,
        actor,
        draft_id=draft_id,
        confirm_without_dry_run=body.confirm_without_dry_run if body is not None else False,
    )
    return DraftRead.model_validate(drafts_service.draft_view(draft, full=False))


@router.post("/drafts/{draft_id}/discard")
async def discard_draft(draft_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> DraftRead:
    draft = await drafts_service.discard_draft(session, actor, draft_id=draft_id)
    return DraftRead.model_validate(drafts_service.draft_view(draft, full=False))
