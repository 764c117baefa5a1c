"""Console tests: signed-in browsers (httpx clients with the session cookie) for any role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from tests.factories import make_user

from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.users import passwords
from spectra.users.models import User
from spectra.users.throttle import throttle

PASSWORD = "correct horse battery staple"
BASE = "http://spectra.test"


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    throttle.reset()
    yield
    throttle.reset()


@pytest.fixture(autouse=True, scope="session")
def cheap_argon2() -> Iterator[None]:
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    passwords.use_hasher(previous)


@dataclass
class Browser:
    """A signed-in console client: `post_form` adds the CSRF token like the page's forms do."""

    client: httpx.AsyncClient
    user: User
    csrf: str

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, **kwargs)

    async def post_form(
        self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf
        headers = {"referer": f"{BASE}{kwargs.pop('referer', '/console/')}"}
        return await self.client.post(url, data=body, headers=headers, **kwargs)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


@pytest_asyncio.fixture
async def browser(runtime: Runtime, app: Any) -> AsyncIterator[Callable[..., Awaitable[Browser]]]:
    """`await browser(role="admin", **user_fields)`: a new user, signed in through the form."""
    opened: list[httpx.AsyncClient] = []

    async def _open(role: str = "admin", **fields: Any) -> Browser:
        async with session_scope(runtime.db) as session:
            user = await make_user(
                session, role=role, password_hash=passwords.hash_password(PASSWORD), **fields
            )
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
        opened.append(client)
        response = await client.post(
            "/console/login", data={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 303, response.text
        page = await client.get("/console/account")
        assert page.status_code == 200
        return Browser(client=client, user=user, csrf=csrf_of(page.text))

    yield _open
    for client in opened:
        await client.aclose()
