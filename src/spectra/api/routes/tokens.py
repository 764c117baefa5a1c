"""/api/tokens: a user's API tokens for the REST API and `spectra --server`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.keys import scim as keys_scim
from spectra.keys import service as keys_service
from spectra.keys.schemas import ScimTokenCreate, TokenCreate, TokenCreated, TokenRead
from spectra.kit.pagination import ListResource

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=201)
async def create_token(body: TokenCreate, session: SessionDep, actor: ActorDep) -> TokenCreated:
    """Create a token for yourself, with your role (optionally read-only); `secret` is shown once."""
    token, secret = await keys_service.create_token(session, actor, **body.model_dump())
    return TokenCreated.with_secret(token, secret)


@router.get("")
async def list_tokens(
    session: ReadSessionDep,
    actor: ActorDep,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[TokenRead]:
    page = await keys_service.list_tokens(
        session, actor, user_id=user_id, user_email=user_email, limit=limit, cursor=cursor
    )
    items = [TokenRead.model_validate(t) for t in page.items]
    return ListResource(items=items, next_cursor=page.next_cursor)


@router.post("/{token_id}/revoke")
async def revoke_token(token_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> TokenRead:
    return TokenRead.model_validate(
        await keys_service.revoke_token(session, actor, token_id=token_id)
    )


@router.post("/scim", status_code=201)
async def create_scim_token(
    body: ScimTokenCreate, session: SessionDep, actor: ActorDep
) -> TokenCreated:
    """Create a SCIM token (directory provisioning at /scim/v2 only) acting with your rights;
    `secret` is shown once."""
    token, secret = await keys_scim.create_scim_token(session, actor, **body.model_dump())
    return TokenCreated.with_secret(token, secret)
