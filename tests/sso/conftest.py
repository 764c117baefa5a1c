"""SSO tests: a fake provider (documented wire format) behind the OIDC client's transport seam,
an owner, and a configured provider named `Acme`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from tests.console.conftest import browser
from tests.factories import make_group, make_user
from tests.fakes.oidc import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeIdp

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.users import passwords
from spectra.users.models import User
from spectra.users.sso import oidc
from spectra.users.sso import service as sso_service
from spectra.users.sso.models import SsoProvider
from spectra.users.sso.schemas import GroupMapping, ProviderCreate
from spectra.users.throttle import throttle

__all__ = ["browser"]

PASSWORD = "correct horse battery staple"
OWNER = "owner@example.com"


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


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    fake = FakeIdp()
    oidc.use_transport(fake.transport())
    yield fake
    oidc.use_transport(None)


def acme(**overrides: object) -> ProviderCreate:
    values: dict[str, object] = {
        "name": "Acme",
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "allowed_domains": ["example.com"],
        "groups_claim": "groups",
        "group_mappings": [
            GroupMapping(claim="spectra-admins", role="admin"),
            GroupMapping(claim="spectra-devs", group="Platform", role="member"),
        ],
    }
    values.update(overrides)
    return ProviderCreate.model_validate(values)


@pytest_asyncio.fixture
async def owner(runtime: Runtime) -> User:
    async with session_scope(runtime.db) as session:
        await make_group(session, name="Platform")
        return await make_user(
            session,
            email=OWNER,
            role="owner",
            password_hash=passwords.hash_password(PASSWORD),
        )


@pytest_asyncio.fixture
async def provider(runtime: Runtime, owner: User, idp: FakeIdp) -> SsoProvider:
    async with session_scope(runtime.db) as session:
        return await sso_service.add_provider(session, local_actor(), data=acme())
