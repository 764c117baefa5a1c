"""REST: redemption code batches (create once with the codes, list with counts, revoke) and redemption."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from spectra.api.deps import ActorDep, IdempotencyHeader, ReadSessionDep, SessionDep
from spectra.kit.pagination import ListResource
from spectra.ledger import service as ledger_service
from spectra.ledger.schemas import (
    BatchCreated,
    BatchRead,
    BatchRevoked,
    CodeRedeem,
    CodesCreate,
    CodesRevoke,
    TransactionRead,
)
from spectra.web.downloads import codes_csv, codes_disposition

router = APIRouter(prefix="/codes", tags=["codes"])


@router.post("/batches", status_code=201, response_model=BatchCreated)
async def create_batch(
    body: CodesCreate,
    session: SessionDep,
    actor: ActorDep,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    idempotency_key: IdempotencyHeader = None,
) -> Any:
    """Generate a batch; the codes are in this answer (JSON, or CSV with `?format=csv`) and never again."""
    await ledger_service.check_currency(session, body.currency)
    created = await ledger_service.create_codes(
        session,
        actor,
        count=body.count,
        amount=body.amount,
        expires_at=body.expires_at,
        memo=body.memo,
        idempotency_key=idempotency_key or body.idempotency_key,
    )
    batch = BatchRead.model_validate(created.batch)
    if format == "csv":
        text = codes_csv(created.codes, batch)
        return Response(
            text,
            status_code=201,
            media_type="text/csv",
            headers={"content-disposition": codes_disposition(batch.id)},
        )
    return BatchCreated.model_validate({**dict(batch), "codes": created.codes})


@router.get("/batches")
async def list_batches(
    session: ReadSessionDep,
    actor: ActorDep,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: str | None = None,
) -> ListResource[BatchRead]:
    page = await ledger_service.list_batches(session, actor, limit=limit, cursor=cursor)
    items = [
        BatchRead.model_validate(s.batch).model_copy(
            update={
                "redeemed": s.redeemed,
                "unused": s.unused,
                "revoked": s.revoked,
                "expired": s.expired,
            }
        )
        for s in page.items
    ]
    return ListResource(items=items, next_cursor=page.next_cursor)


@router.post("/batches/{batch_id}/revoke")
async def revoke_batch(
    batch_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: CodesRevoke | None = None
) -> BatchRevoked:
    """Revoke the batch's unused codes (or the listed ones); their value returns to funding."""
    revoked = await ledger_service.revoke_codes(
        session, actor, batch_id=batch_id, code_ids=body.code_ids if body else None
    )
    return BatchRevoked(batch_id=batch_id, revoked=revoked)


@router.post("/redeem")
async def redeem(
    body: CodeRedeem, request: Request, session: SessionDep, actor: ActorDep
) -> TransactionRead:
    """Redeem a code into your own wallet."""
    client_ip = actor.client_ip or (request.client.host if request.client else None)
    return TransactionRead.model_validate(
        await ledger_service.redeem_code(session, actor, code=body.code, client_ip=client_ip)
    )
