"""Probes of the cloud kinds speak each provider's wire (so a scheduled probe does not mark a
good account failing), and a wrong credential is classified as what it is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from tests.fakes.clouds import FakeAzure, FakeBedrock, FakeVertex, service_account_info
from tests.fakes.gemini import FakeGemini

from spectra.kit import clock as clock_module
from spectra.pool.credentials import Credential
from spectra.pool.probes import probe
from spectra.providers import UpstreamClient, bedrock

KEYS = bedrock.AwsKeys("AKIAFAKEFAKEFAKE0001", "fake/secret/key/of/forty/characters/0001")


@pytest.fixture
def real_clock() -> Iterator[None]:
    clock_module.freeze(datetime.now(UTC))
    yield
    clock_module.unfreeze()


async def test_gemini_and_azure_probes() -> None:
    async with UpstreamClient() as client, FakeGemini() as gem, FakeAzure() as az:
        ok = await probe(
            client,
            provider="gemini",
            base_url=gem.url,
            credential=Credential(gem.api_key),
            models=["gemini-2.5-pro"],
        )
        bad = await probe(
            client,
            provider="gemini",
            base_url=gem.url,
            credential=Credential("AIza-wrong-key"),
            models=["gemini-2.5-pro"],
        )
        azure_ok = await probe(
            client,
            provider="azure_openai",
            base_url=az.url,
            credential=Credential(az.api_key),
            models=["gpt5-prod"],
            settings={"api_version": "2025-04-01-preview"},
        )
    assert ok.ok, ok.message
    assert (bad.ok, bad.failure_type) == (False, "auth_failed")
    assert azure_ok.ok, azure_ok.message
    assert az.api_versions == ["2025-04-01-preview"]


async def test_bedrock_probe_is_signed() -> None:
    settings = {"region": "us-east-1"}
    async with UpstreamClient() as client, FakeBedrock() as fake:
        ok = await probe(
            client,
            provider="bedrock",
            base_url=fake.url,
            credential=Credential(KEYS.to_json()),
            models=["claude-haiku-4-5"],
            settings=settings,
        )
        wrong = bedrock.AwsKeys(KEYS.access_key_id, "x" * 40)
        bad = await probe(
            client,
            provider="bedrock",
            base_url=fake.url,
            credential=Credential(wrong.to_json()),
            models=["claude-haiku-4-5"],
            settings=settings,
        )
    assert ok.ok, ok.message
    assert (bad.ok, bad.failure_type) == (False, "auth_failed")
    assert fake.requests[0][0] == "/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke"
    assert json.loads(fake.requests[0][2])["max_tokens"] == 1


async def test_vertex_probe_exchanges_the_key_and_counts_tokens(real_clock: None) -> None:
    async with UpstreamClient() as client, FakeVertex(public_pem=b"") as fake:
        info, fake.public_pem = service_account_info(f"{fake.url}/token")
        settings = {"region": "us-east5", "project": "acme-ai"}
        ok = await probe(
            client,
            provider="vertex",
            base_url=fake.url,
            credential=Credential(json.dumps(info)),
            models=["claude-sonnet-4-5"],
            settings=settings,
        )
        stranger, _ = service_account_info(f"{fake.url}/token")
        bad = await probe(
            client,
            provider="vertex",
            base_url=fake.url,
            credential=Credential(json.dumps(stranger)),
            models=["claude-sonnet-4-5"],
            settings=settings,
        )
    assert ok.ok, ok.message
    assert fake.requests[0][0].endswith("/publishers/anthropic/models/count-tokens:rawPredict")
    assert (bad.ok, bad.failure_type) == (False, "auth_failed")


async def test_a_gemini_only_vertex_account_is_probed_on_a_gemini_model(real_clock: None) -> None:
    async with UpstreamClient() as client, FakeVertex(public_pem=b"") as fake:
        info, fake.public_pem = service_account_info(f"{fake.url}/token")
        outcomes = [
            await probe(
                client,
                provider="vertex",
                base_url=fake.url,
                credential=Credential(json.dumps(info)),
                models=models,
                settings={"region": "us-central1", "project": "acme-ai"},
            )
            for models in (["gemini-*"], ["gemini-2.5-pro", "claude-*"])
        ]
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    google = "/v1/projects/acme-ai/locations/us-central1/publishers/google/models/"
    assert [path for path, _, _ in fake.requests] == [
        f"{google}gemini-2.5-flash:countTokens",
        f"{google}gemini-2.5-pro:countTokens",
    ]
