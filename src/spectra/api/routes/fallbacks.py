"""Model fallback chains: which models the gateway tries, in order, when a model is overloaded,
rate limited or the prompt is too long for it (per model, optionally per group)."""

from __future__ import annotations

from fastapi import APIRouter

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.pool import fallbacks as fallbacks_service
from spectra.pool.fallbacks import FallbackList, FallbackRead, FallbackSet

router = APIRouter(prefix="/fallbacks", tags=["pool"])


@router.get("")
async def list_fallbacks(session: ReadSessionDep, actor: ActorDep) -> FallbackList:
    """Every fallback chain: the workspace's, then each group's."""
    items = await fallbacks_service.list_fallbacks(session, actor)
    return FallbackList(items=items)


@router.put("")
async def set_fallbacks(body: FallbackSet, session: SessionDep, actor: ActorDep) -> FallbackRead:
    """Set or replace a model's fallback chain (for `group` only when given)."""
    return await fallbacks_service.set_fallbacks(session, actor, data=body)


@router.delete("")
async def clear_fallbacks(
    model: str, session: SessionDep, actor: ActorDep, group: str | None = None
) -> FallbackRead:
    """Remove a model's fallback chain (the workspace's, or `group`'s); answers the removed one."""
    return await fallbacks_service.clear_fallbacks(session, actor, model=model, group=group)
