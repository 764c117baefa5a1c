"""/api/sso/providers: OpenID Connect providers for console sign-in. No response carries the
client secret; a provider shows only its last four characters."""

from __future__ import annotations

from fastapi import APIRouter

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.users.sso import service as sso_service
from spectra.users.sso.schemas import (
    ProviderCreate,
    ProviderList,
    ProviderRead,
    ProviderTestRead,
    ProviderUpdate,
)

router = APIRouter(prefix="/sso", tags=["sso"])


@router.get("/providers")
async def list_providers(session: ReadSessionDep, actor: ActorDep) -> ProviderList:
    page = await sso_service.list_providers(session, actor)
    return ProviderList(
        items=[ProviderRead.model_validate(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.post("/providers", status_code=201)
async def add_provider(body: ProviderCreate, session: SessionDep, actor: ActorDep) -> ProviderRead:
    return ProviderRead.model_validate(await sso_service.add_provider(session, actor, data=body))


@router.get("/providers/{name}")
async def show_provider(name: str, session: ReadSessionDep, actor: ActorDep) -> ProviderRead:
    return ProviderRead.model_validate(await sso_service.get_provider(session, actor, name=name))


@router.patch("/providers/{name}")
async def update_provider(
    name: str, body: ProviderUpdate, session: SessionDep, actor: ActorDep
) -> ProviderRead:
    """Change a provider's settings: only the fields sent change; a new client secret is sealed
    and, like the first, never returned (only its last four characters)."""
    provider = await sso_service.update_provider(session, actor, name=name, data=body)
    return ProviderRead.model_validate(provider)


@router.delete("/providers/{name}", status_code=204)
async def remove_provider(name: str, session: SessionDep, actor: ActorDep) -> None:
    await sso_service.remove_provider(session, actor, name=name)


@router.post("/providers/{name}/test")
async def test_provider(name: str, session: ReadSessionDep, actor: ActorDep) -> ProviderTestRead:
    """Fetch the provider's discovery document and key set now and report what they say."""
    return await sso_service.test_provider(session, actor, name=name)
