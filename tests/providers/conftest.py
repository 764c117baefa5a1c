"""Fixtures for the providers tests: the fake upstream and a client pointed at it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# `tests.fakes` is imported by its full name everywhere; until the pytest config sets
# `pythonpath = ["."]`, put the project root on the path ourselves.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from spectra.providers import UpstreamClient  # noqa: E402
from tests.fakes.upstream import FakeUpstream  # noqa: E402

FAKE_KEY = "sk-fake-upstream"


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(api_key=FAKE_KEY) as fake:
        yield fake


@pytest.fixture
async def upstream_client() -> AsyncIterator[UpstreamClient]:
    async with UpstreamClient() as client:
        yield client
