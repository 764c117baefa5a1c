"""Prices: the table in force (overrides over genai-prices defaults) and admin overrides."""

from __future__ import annotations

from fastapi import APIRouter, Query

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.kit.money import to_decimal
from spectra.kit.pagination import ListResource
from spectra.usage import service as usage_service
from spectra.usage.schemas import PriceRead, PriceSet

router = APIRouter(prefix="/prices", tags=["prices"])


@router.get("")
async def list_prices(
    session: ReadSessionDep,
    actor: ActorDep,
    model: str | None = None,
    include_defaults: bool = Query(False, alias="defaults"),
    include_history: bool = Query(False, alias="history"),
) -> ListResource[PriceRead]:
    items = await usage_service.list_prices(
        session,
        actor,
        model=model,
        include_defaults=include_defaults,
        include_history=include_history,
    )
    return ListResource(items=items)


@router.get("/{model}")
async def get_price(model: str, session: ReadSessionDep, actor: ActorDep) -> PriceRead:
    return await usage_service.get_price(session, actor, model=model)


async def _set(body: PriceSet, session: SessionDep, actor: ActorDep) -> PriceRead:
    return await usage_service.set_price(
        session,
        actor,
        model=body.model,
        input=to_decimal(body.input),
        output=to_decimal(body.output),
        cache_read=None if body.cache_read is None else to_decimal(body.cache_read),
        cache_write=None if body.cache_write is None else to_decimal(body.cache_write),
        effective_from=body.effective_from,
        cache_write_1h=None if body.cache_write_1h is None else to_decimal(body.cache_write_1h),
        web_search=None if body.web_search is None else to_decimal(body.web_search),
        account=body.account,
    )


@router.post("", status_code=201)
async def set_price(body: PriceSet, session: SessionDep, actor: ActorDep) -> PriceRead:
    return await _set(body, session, actor)


@router.put("")
async def put_price(body: PriceSet, session: SessionDep, actor: ActorDep) -> PriceRead:
    return await _set(body, session, actor)
