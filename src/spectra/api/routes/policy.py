"""/api/policy: explain the access decision (the gateway's own function and trace) and set a
group's funding switches."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.policy import service as policy_service

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
) -> dict[str, Any]:
    """{"allowed", "reason_code", "message", "deciding_rule", "funding": [...], "trace": [...]}"""
    decision = await policy_service.explain(session, actor, user=user, model=model, key_id=key_id)
    return decision.as_json()


@router.patch("/groups/{group}")
async def set_group_funding(
    group: str, body: GroupFundingUpdate, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    row = await policy_service.set_group_funding(
        session,
        actor,
        group=group,
        wallet_fallback=body.wallet_fallback,
        group_wallet_fallback=body.group_wallet_fallback,
    )
    return {
        "group_id": str(row.group_id),
        "wallet_fallback": row.is_wallet_fallback,
        "group_wallet_fallback": row.is_group_wallet_fallback,
    }
