"""The RBAC matrix: every route under /api (from the app's own route table) × every caller
kind, with real credentials (admin API tokens, a member key, a read-only token), checked
against the expected table in `tests/api/rbac_matrix.py`."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from tests.factories import make_group, make_user

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.runtime import Runtime
from spectra.users import passwords
from spectra.users import service as users_service

from .rbac_matrix import MATRIX, ROLES, Call, Case, fill

PASSWORD = "rbac matrix password"
DENIED_CODES = {"permission_denied", "read_only_token", "owner_protected", "token_from_member_key"}


def api_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        path = getattr(context, "path", "") or ""
        if not path.startswith("/api"):
            continue
        for method in getattr(context, "methods", None) or ():
            if method != "HEAD":
                found.add((method, path))
    return found


class Fixtures:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.password = PASSWORD
        self._n = itertools.count()
        self._hash = passwords.hash_password(PASSWORD)

    def unique(self) -> str:
        return f"{next(self._n)}"

    async def user(self, *, status: str = "active", role: str = "member") -> Any:
        async with session_scope(self.runtime.db) as session:
            return await make_user(
                session,
                email=f"target-{self.unique()}-{role}@example.com",
                role=role,
                status=status,
                password_hash=self._hash,
            )

    async def group(self) -> Any:
        async with session_scope(self.runtime.db) as session:
            return await make_group(session, name=f"rbac-team-{self.unique()}")

    async def setup_token(self) -> str:
        async with session_scope(self.runtime.db) as session:
            issued = await users_service.invite_user(
                session, local_actor(), email=f"inv-{self.unique()}@example.com"
            )
            return issued.token

    async def key(self, user: Any) -> Any:
        async with session_scope(self.runtime.db) as session:
            key, _ = await keys_service.create_key(session, local_actor(), user_id=user.id)
            return key

    async def token(self, user: Any) -> Any:
        async with session_scope(self.runtime.db) as session:
            token, _ = await keys_service.create_token(session, local_actor(), user_id=user.id)
            return token

    async def credential(self, kind: str) -> str:
        """A real secret for a caller of `kind`."""
        role = {"member_key": "member", "read_only": "owner"}.get(kind, kind)
        user = await self.user(role=role)
        async with session_scope(self.runtime.db) as session:
            if kind == "member_key":
                _, secret = await keys_service.create_key(session, local_actor(), user_id=user.id)
            else:
                _, secret = await keys_service.create_token(
                    session, local_actor(), user_id=user.id, read_only=kind == "read_only"
                )
        return secret


async def _call(
    client: httpx.AsyncClient, method: str, path: str, call: Call, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(
        method, fill(path, call.path_params), json=call.json, params=call.params, headers=headers
    )


def test_every_api_route_has_an_entry(app: Any) -> None:
    served = api_routes(app)
    missing = sorted(served - set(MATRIX))
    stale = sorted(set(MATRIX) - served)
    assert not missing, "add these routes to tests/api/rbac_matrix.py: " + ", ".join(
        f"{m} {p}" for m, p in missing
    )
    assert not stale, "tests/api/rbac_matrix.py names routes the app does not serve: " + ", ".join(
        f"{m} {p}" for m, p in stale
    )


@pytest.mark.parametrize("kind", ROLES)
async def test_matrix(kind: str, runtime: Runtime, app: Any, client: httpx.AsyncClient) -> None:
    fx = Fixtures(runtime)
    await fx.user(role="owner")  # someone else keeps owning the workspace whatever the caller does
    secret = await fx.credential(kind)
    headers = {"authorization": f"Bearer {secret}"}
    wrong: list[str] = []
    for (method, path), case in sorted(MATRIX.items()):
        if case.public or (method, path) not in api_routes(app):
            continue
        call = await case.prepare(fx)
        response = await _call(client, method, path, call, headers)
        code = _code(response)
        if kind in case.allow:
            if response.status_code >= 400:
                wrong.append(
                    f"{method} {path}: {kind} should be allowed, got {response.status_code} {code}"
                )
        elif response.status_code != 403 or code not in DENIED_CODES:
            wrong.append(
                f"{method} {path}: {kind} should be denied (403), got {response.status_code} {code}"
            )
    assert not wrong, "\n".join(wrong)


async def test_every_route_refuses_anonymous_callers_except_public_ones(
    runtime: Runtime, app: Any, client: httpx.AsyncClient
) -> None:
    fx = Fixtures(runtime)
    wrong: list[str] = []
    for (method, path), case in sorted(MATRIX.items()):
        if (method, path) not in api_routes(app):
            continue
        call = await case.prepare(fx)
        client.cookies.clear()  # signing in (a public route) sets a session cookie
        response = await _call(client, method, path, call, {})
        if case.public and response.status_code >= 400:
            wrong.append(f"{method} {path}: public, got {response.status_code} {_code(response)}")
        if not case.public and response.status_code != 401:
            wrong.append(f"{method} {path}: should need credentials, got {response.status_code}")
    assert not wrong, "\n".join(wrong)


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


def test_the_table_covers_every_role_per_entry() -> None:
    for key, case in MATRIX.items():
        assert isinstance(case, Case), key
        assert case.allow <= set(ROLES), f"{key} names an unknown caller kind"
