"""Fixtures for the providers tests: the fake upstream and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.fakes.upstream import FakeUpstream

from spectra.providers import UpstreamClient

FAKE_KEY = "sk-fake-upstream"


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(api_key=FAKE_KEY) as fake:
        yield fake


@pytest.fixture
async def upstream_client() -> AsyncIterator[UpstreamClient]:
    async with UpstreamClient() as client:
        yield client
