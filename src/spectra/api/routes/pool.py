"""REST routes of the account pool: accounts, credential rotation, tests, state and history.

No response ever carries a credential; accounts show only its last four characters.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.kit.clock import utc_now
from spectra.kit.pagination import ListResource
from spectra.pool import service as pool_service
from spectra.pool import wiring as pool_wiring
from spectra.pool.models import PoolAccount
from spectra.pool.schemas import (
    AccountCreate,
    AccountDisable,
    AccountRead,
    AccountTestRead,
    AccountUpdate,
    AlertRead,
    CredentialRotate,
    CredentialRotated,
    PoolStatusRead,
    ProbeRead,
    TransitionRead,
)

router = APIRouter(prefix="/pool", tags=["pool"])


def _live_figures(account_id: uuid.UUID) -> dict[str, Any] | None:
    running = pool_wiring.find_current()
    if running is None:
        return None
    live = running.state.accounts.get(account_id)
    return None if live is None else live.figures.summary(utc_now())


def _read(account: PoolAccount) -> AccountRead:
    """The account with this server's live figures (computed here, not stored on the row)."""
    read = AccountRead.model_validate(account)
    read.figures = _live_figures(account.id)
    return read


@router.get("/accounts")
async def list_accounts(
    session: ReadSessionDep,
    actor: ActorDep,
    limit: int | None = None,
    cursor: str | None = None,
    state: str | None = None,
) -> ListResource[AccountRead]:
    page = await pool_service.list_accounts(session, actor, limit=limit, cursor=cursor, state=state)
    return ListResource(items=[_read(a) for a in page.items], next_cursor=page.next_cursor)


@router.post("/accounts", status_code=201)
async def add_account(body: AccountCreate, session: SessionDep, actor: ActorDep) -> AccountRead:
    return AccountRead.model_validate(await pool_service.add_account(session, actor, data=body))


@router.get("/accounts/by-name/{name}")
async def show_account_by_name(name: str, session: ReadSessionDep, actor: ActorDep) -> AccountRead:
    return _read(await pool_service.get_account_by_name(session, actor, name=name))


@router.get("/accounts/{account_id}")
async def show_account(
    account_id: uuid.UUID, session: ReadSessionDep, actor: ActorDep
) -> AccountRead:
    return _read(await pool_service.get_account(session, actor, account_id=account_id))


@router.patch("/accounts/{account_id}")
async def edit_account(
    account_id: uuid.UUID, body: AccountUpdate, session: SessionDep, actor: ActorDep
) -> AccountRead:
    return _read(
        await pool_service.update_account(session, actor, account_id=account_id, data=body)
    )


@router.post("/accounts/{account_id}/credential")
async def rotate_credential(
    account_id: uuid.UUID, body: CredentialRotate, session: SessionDep, actor: ActorDep
) -> CredentialRotated:
    account, outcome = await pool_service.rotate_credential(
        session,
        actor,
        account_id=account_id,
        api_key=body.api_key.get_secret_value(),
        run_probe=body.probe,
    )
    probe = None if outcome is None else ProbeRead.model_validate(outcome)
    return CredentialRotated(account=_read(account), probe=probe)


@router.post("/accounts/{account_id}/test")
async def test_account(
    account_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> AccountTestRead:
    account, outcome = await pool_service.test_account(session, actor, account_id=account_id)
    return AccountTestRead(account=_read(account), probe=ProbeRead.model_validate(outcome))


@router.post("/accounts/{account_id}/disable")
async def disable_account(
    account_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: AccountDisable | None = None
) -> AccountRead:
    reason = body.reason if body else ""
    return _read(
        await pool_service.disable_account(session, actor, account_id=account_id, reason=reason)
    )


@router.post("/accounts/{account_id}/enable")
async def enable_account(
    account_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> AccountRead:
    return _read(await pool_service.enable_account(session, actor, account_id=account_id))


@router.post("/accounts/{account_id}/reset")
async def reset_account_state(
    account_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> AccountRead:
    return _read(await pool_service.reset_account_state(session, actor, account_id=account_id))


@router.get("/accounts/{account_id}/history")
async def account_history(
    account_id: uuid.UUID,
    session: ReadSessionDep,
    actor: ActorDep,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[TransitionRead]:
    page = await pool_service.list_history(
        session, actor, account_id=account_id, limit=limit, cursor=cursor
    )
    return ListResource[TransitionRead].model_validate(page)


@router.get("/alerts")
async def list_alerts(
    session: ReadSessionDep,
    actor: ActorDep,
    limit: int | None = None,
    cursor: str | None = None,
    open_only: bool = True,
) -> ListResource[AlertRead]:
    page = await pool_service.list_alerts(
        session, actor, limit=limit, cursor=cursor, open_only=open_only
    )
    return ListResource[AlertRead].model_validate(page)


@router.get("/status")
async def pool_status(session: ReadSessionDep, actor: ActorDep) -> PoolStatusRead:
    """For every signed-in user: per model, how many accounts serve it and whether the pool is degraded."""
    return PoolStatusRead.model_validate(await pool_service.pool_status(session, actor))
