"""Pool test fixtures: server keys for session tests, actors, and the fake upstream."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from spectra.audit.actor import Actor, ActorKind
from spectra.db.serverkey import ServerKeys, get_server_keys, set_server_keys

# `tests.fakes` is imported by its full name; until the pytest config sets `pythonpath = ["."]`,
# put the project root on the path ourselves (as tests/providers does).
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fakes.upstream import FakeUpstream  # noqa: E402

TEST_SECRET = "a" * 64

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
