"""An Azure OpenAI account with Entra ID client credentials: requests carry the app's bearer
token (one exchange, reused), never an api-key or the secret; the probe uses the token too; the
API shows only the client id's last four characters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from tests.fakes.clouds import FakeAzure
from tests.fakes.entra import FakeEntra
from tests.fakes.upstream import Reply

from spectra.db.session import read_scope
from spectra.pool.credentials import Credential
from spectra.pool.models import PoolAccount
from spectra.pool.probes import probe
from spectra.providers import UpstreamClient

from .world import World, expected_cost, serve


@pytest_asyncio.fixture
async def entra_pool(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[World, FakeAzure, FakeEntra]]:
    async with FakeEntra() as entra, FakeAzure(deployments={"gpt5-prod": "gpt-5"}) as azure:
        monkeypatch.setenv("SSL_CERT_FILE", str(entra.ca_file))  # trust its self-signed cert
        azure.entra_tokens = entra.issued
        await world.add_account(
            "azure-entra",
            provider="azure_openai",
            base_url=azure.url,
            api_key=json.dumps(entra.credential()),
            models=["gpt5-prod"],
            aliases={"gpt-5": "gpt5-prod"},
        )
        await world.recharge("10")
        yield world, azure, entra


async def test_requests_carry_the_entra_token(
    app: object, entra_pool: tuple[World, FakeAzure, FakeEntra]
) -> None:
    world, azure, entra = entra_pool
    azure.default = Reply(text="From Azure.", input_tokens=20, output_tokens=5)
    chat = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        first = await http.post("/v1/chat/completions", headers=world.headers(), json=chat)
        second = await http.post(
            "/v1/chat/completions", headers=world.headers(), json=chat | {"stream": True}
        )
    assert first.status_code == 200, first.text
    assert first.json()["choices"][0]["message"]["content"] == "From Azure."
    assert second.status_code == 200, second.text
    assert entra.token_requests == 1
    for _, headers, _ in azure.requests:
        assert headers["Authorization"] in {f"Bearer {t}" for t in entra.issued}
        assert "api-key" not in {k.lower() for k in headers}
        assert entra.client_secret not in json.dumps(headers)
    async with read_scope(world.runtime.db) as session:
        row = await session.get(PoolAccount, world.accounts["azure-entra"])
    assert row is not None
    assert row.credential_last4 == entra.client_id[-4:]
    assert entra.client_secret not in row.credential_ciphertext  # sealed
    await world.settle()
    records = await world.records()
    assert [(r.status, r.cost_micros) for r in records] == [("ok", expected_cost(20, 5))] * 2


async def test_the_probe_uses_the_token_and_a_refused_secret_needs_an_admin(
    entra_pool: tuple[World, FakeAzure, FakeEntra],
) -> None:
    _, azure, entra = entra_pool
    async with UpstreamClient() as client:
        outcomes = [
            await probe(
                client,
                provider="azure_openai",
                base_url=azure.url,
                credential=Credential(json.dumps(entra.credential(**change))),
                models=["gpt5-prod"],
                settings={"api_version": "2025-04-01-preview"},
            )
            for change in ({}, {"client_secret": "wrong~secret~value"})
        ]
    assert outcomes[0].ok, outcomes[0].message
    assert (outcomes[1].ok, outcomes[1].failure_type) == (False, "auth_failed")
