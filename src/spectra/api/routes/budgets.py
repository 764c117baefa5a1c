"""/api/budgets: per-key budgets and limits, and budget extension requests (ask, approve,
reject). Each call is one service function of `spectra.budgets`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.budgets import service as budgets_service
from spectra.budgets.schemas import (
    ExtensionCreate,
    ExtensionDecision,
    ExtensionRead,
    KeyBudgetChange,
    KeyBudgetRead,
)
from spectra.kit.pagination import ListResource

router = APIRouter(prefix="/budgets", tags=["budgets"])


@router.get("/keys")
async def list_key_budgets(
    session: ReadSessionDep, actor: ActorDep, limit: int | None = None, cursor: str | None = None
) -> ListResource[KeyBudgetRead]:
    """Every key budget (admins), or the caller's own keys' budgets."""
    page = await budgets_service.list_key_budgets(session, actor, limit=limit, cursor=cursor)
    return ListResource[KeyBudgetRead].model_validate(page)


@router.get("/keys/{key_id}")
async def get_key_budget(
    key_id: uuid.UUID, session: ReadSessionDep, actor: ActorDep
) -> KeyBudgetRead:
    return KeyBudgetRead.model_validate(
        await budgets_service.get_key_budget(session, actor, key_id=key_id)
    )


@router.patch("/keys/{key_id}")
async def set_key_budget(
    key_id: uuid.UUID, body: KeyBudgetChange, session: SessionDep, actor: ActorDep
) -> KeyBudgetRead:
    """Set a key's budgets (`day`, `week`, `month`), `mode`, request limits, models and clients;
    fields left out stay, `null` clears one."""
    row = await budgets_service.set_key_budget(session, actor, key_id=key_id, changes=body)
    return KeyBudgetRead.model_validate(row)


@router.delete("/keys/{key_id}")
async def clear_key_budget(
    key_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> KeyBudgetRead:
    """Remove a key's budget (the deployment's default per-key limits apply); answers it."""
    row = KeyBudgetRead.model_validate(
        await budgets_service.get_key_budget(session, actor, key_id=key_id)
    )
    await budgets_service.clear_key_budget(session, actor, key_id=key_id)
    return row


@router.get("/extensions")
async def list_extensions(
    session: ReadSessionDep,
    actor: ActorDep,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[ExtensionRead]:
    page = await budgets_service.list_extensions(
        session, actor, status=status, limit=limit, cursor=cursor
    )
    return ListResource[ExtensionRead].model_validate(page)


@router.post("/extensions", status_code=201)
async def request_extension(
    body: ExtensionCreate, session: SessionDep, actor: ActorDep
) -> ExtensionRead:
    """Ask to spend past an approval-mode budget of your key or of your project."""
    row = await budgets_service.request_extension(
        session,
        actor,
        amount_micros=body.amount,
        key_id=body.key_id,
        project=body.project,
        reason=body.reason,
    )
    return ExtensionRead.model_validate(row)


@router.post("/extensions/{extension_id}/approve")
async def approve_extension(
    extension_id: uuid.UUID, body: ExtensionDecision, session: SessionDep, actor: ActorDep
) -> ExtensionRead:
    row = await budgets_service.decide_extension(
        session, actor, extension_id=extension_id, approve=True, expires_at=body.expires_at
    )
    return ExtensionRead.model_validate(row)


@router.post("/extensions/{extension_id}/reject")
async def reject_extension(
    extension_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> ExtensionRead:
    row = await budgets_service.decide_extension(
        session, actor, extension_id=extension_id, approve=False
    )
    return ExtensionRead.model_validate(row)
