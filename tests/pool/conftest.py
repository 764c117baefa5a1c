"""Pool test fixtures: server keys for session tests, actors, and the fake upstream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from tests.conftest import TEST_SECRET
from tests.fakes.upstream import FakeUpstream

from spectra.audit.actor import Actor, ActorKind
from spectra.db.serverkey import ServerKeys, get_server_keys, set_server_keys

FAKE_KEY = "sk-fake-upstream-key-7f3a"


@pytest.fixture
def server_keys() -> Iterator[ServerKeys]:
    """The server secret for tests that use `session` without a runtime."""
    try:
        previous: ServerKeys | None = get_server_keys()
    except RuntimeError:
        previous = None
    keys = ServerKeys(secret=bytes.fromhex(TEST_SECRET))
    set_server_keys(keys)
    yield keys
    set_server_keys(previous)


@pytest.fixture
def admin() -> Actor:
    return Actor(
        kind=ActorKind.USER,
        label="admin@example.com",
        user_id=uuid.uuid4(),
        role="admin",
        via="session",
    )


@pytest.fixture
def member() -> Actor:
    return Actor(
        kind=ActorKind.USER,
        label="member@example.com",
        user_id=uuid.uuid4(),
        role="member",
        via="session",
    )


@pytest.fixture
def auditor() -> Actor:
    return Actor(
        kind=ActorKind.USER,
        label="auditor@example.com",
        user_id=uuid.uuid4(),
        role="auditor",
        via="session",
    )


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(api_key=FAKE_KEY) as upstream:
        yield upstream
