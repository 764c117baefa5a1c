"""Passkey endpoints over HTTP (the full ceremonies run in Chromium: tests/browser/
test_passkey_journey.py): the options the browser gets, and refusals that open no session."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tests.console.conftest import BASE, Browser

OpenBrowser = Callable[..., Awaitable[Browser]]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _assertion(challenge: str) -> dict[str, Any]:
    client_data = {"type": "webauthn.get", "challenge": challenge, "origin": BASE}
    return {
        "credential": {
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64(json.dumps(client_data).encode()),
                "authenticatorData": _b64(b"\0" * 37),
                "signature": _b64(b"\0" * 64),
                "userHandle": None,
            },
            "clientExtensionResults": {},
        }
    }


async def test_registration_options_name_the_site_and_the_user(browser: OpenBrowser) -> None:
    me = await browser(role="member")
    answer = await me.client.post(
        "/console/account/passkeys/options", headers={"x-csrf-token": me.csrf}
    )
    assert answer.status_code == 200
    options = answer.json()
    assert options["rp"] == {"name": "Spectra", "id": "spectra.test"}
    assert options["user"]["name"] == me.user.email
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert len(base64.urlsafe_b64decode(options["challenge"] + "==")) == 32


async def test_registration_needs_the_csrf_token(browser: OpenBrowser) -> None:
    me = await browser(role="member")
    answer = await me.client.post("/console/account/passkeys/options")
    assert answer.status_code == 403


async def test_an_unknown_challenge_is_refused_and_opens_no_session(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/console/login/passkey", json=_assertion(_b64(b"x" * 32)))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "passkey_invalid"
    assert "spectra_session" not in answer.cookies


async def test_an_unregistered_passkey_is_refused(
    client: httpx.AsyncClient,
) -> None:
    options = (await client.post("/console/login/passkey/options")).json()
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == []
    first = await client.post("/console/login/passkey", json=_assertion(options["challenge"]))
    assert first.status_code == 401
    assert "not registered" in first.json()["error"]["message"]
    assert "spectra_session" not in first.cookies


async def test_garbage_is_a_clear_refusal(client: httpx.AsyncClient) -> None:
    answer = await client.post("/console/login/passkey", content=b"not json")
    assert answer.status_code == 401
    assert "not a WebAuthn response" in answer.json()["error"]["message"]


async def test_another_site_cannot_start_a_passkey_sign_in(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/console/login/passkey/options", headers={"origin": "https://evil.example"}
    )
    assert answer.status_code == 403
