"""Azure OpenAI with an Entra ID token: azure-identity exchanges the app's client credentials
at the (fake, HTTPS) Entra token endpoint; the token is kept and fetched again five minutes
before it expires; refused credentials are an auth failure; the credential's form is checked
before it is sealed, never echoing the secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.fakes.entra import FakeEntra

from spectra.kit import clock as clock_module
from spectra.pool import kinds
from spectra.pool.errors import CredentialMissingError
from spectra.providers import FailureType, UpstreamFailure, azure


@pytest.fixture
def real_clock() -> Iterator[None]:
    clock_module.freeze(datetime.now(UTC))
    yield
    clock_module.unfreeze()


@pytest.fixture
async def entra(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeEntra]:
    async with FakeEntra() as fake:
        monkeypatch.setenv("SSL_CERT_FILE", str(fake.ca_file))  # trust its self-signed cert
        yield fake


async def test_token_is_fetched_kept_and_refreshed_before_expiry(
    entra: FakeEntra, real_clock: None
) -> None:
    tokens = azure.EntraTokens(azure.EntraApp.from_json(json.dumps(entra.credential())))
    first = await tokens.token()
    assert first in entra.issued
    assert await tokens.token() == first
    assert entra.token_requests == 1
    clock_module.advance(timedelta(minutes=54))  # 6 minutes left: still kept
    assert await tokens.token() == first
    clock_module.advance(timedelta(minutes=2))  # 4 minutes left: within the margin
    second = await tokens.token()
    assert second != first
    assert second in entra.issued
    assert entra.token_requests == 2


async def test_refused_credentials_are_an_auth_failure(entra: FakeEntra) -> None:
    wrong = azure.EntraApp.from_json(json.dumps(entra.credential(client_secret="x" * 20)))
    with pytest.raises(UpstreamFailure) as caught:
        await azure.EntraTokens(wrong).token()
    assert caught.value.type is FailureType.AUTH_FAILED
    assert "AADSTS7000215" in caught.value.provider_message
    assert "x" * 20 not in str(caught.value) + caught.value.provider_message


def test_the_credential_is_checked_and_normalised() -> None:
    raw = {
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "0b6c5a3e-1d2f-4e5a-9b8c-7d6e5f4a3b21",
        "client_secret": "s3cr3t~value~long",
    }
    clean = kinds.clean_credential("azure_openai", json.dumps(raw))
    assert json.loads(clean.stored) == raw
    assert clean.last4 == "3b21"
    assert kinds.clean_credential("azure_openai", clean.stored) == clean  # idempotent
    plain = kinds.clean_credential("azure_openai", "0123456789abcdef0123")
    assert (plain.stored, azure.is_entra(plain.stored)) == ("0123456789abcdef0123", False)
    for bad, words in (
        ({**raw, "client_id": "not-a-guid"}, "GUID"),
        ({k: v for k, v in raw.items() if k != "client_secret"}, "client_secret"),
        ({**raw, "client_secret": "short"}, "client secret"),
        ({**raw, "tenant_id": "bad tenant"}, "tenant"),
        ({**raw, "authority": "http://evil example"}, "authority"),
    ):
        with pytest.raises(CredentialMissingError) as caught:
            kinds.clean_credential("azure_openai", json.dumps(bad))
        assert words in str(caught.value)
        assert raw["client_secret"] not in str(caught.value)
