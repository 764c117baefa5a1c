"""SCIM tests: an owner, a SCIM token created through the service, and the ASGI app over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys import scim as keys_scim
from spectra.runtime import Runtime
from spectra.users import service as users_service

SCIM = "/scim/v2"
SCIM_JSON = "application/scim+json"


@dataclass
class Scim:
    client: httpx.AsyncClient
    owner_email: str
    token: str

    async def call(
        self, method: str, path: str, body: object | None = None, **params: str | int | None
    ) -> httpx.Response:
        return await self.client.request(
            method,
            SCIM + path,
            json=body,
            params={k: v for k, v in params.items() if v is not None} or None,
            headers={"authorization": f"Bearer {self.token}", "content-type": SCIM_JSON},
        )


async def make_owner_and_token(runtime: Runtime, email: str = "owner@example.com") -> str:
    async with session_scope(runtime.db) as session:
        await users_service.create_user(session, local_actor(), email=email, role="owner")
        _, secret = await keys_scim.create_scim_token(session, local_actor(), user_email=email)
    return secret


@pytest_asyncio.fixture
async def scim(runtime: Runtime, client: httpx.AsyncClient) -> AsyncIterator[Scim]:
    token = await make_owner_and_token(runtime)
    yield Scim(client=client, owner_email="owner@example.com", token=token)
