"""REST routes of the pool: every action, and no credential in any response or log line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.fakes.upstream import FakeUpstream

from spectra.audit.actor import Actor

from .conftest import FAKE_KEY

NEW_KEY = "sk-brand-new-upstream-key-4242"


def _body(fake: FakeUpstream, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Main",
        "provider": "anthropic",
        "base_url": fake.url,
        "api_key": FAKE_KEY,
        "models": ["claude-sonnet-4-5", "claude-*"],
        "monthly_spend_cap": "250.50",
    }
    body.update(overrides)
    return body


async def test_account_lifecycle_never_returns_the_credential(
    client: httpx.AsyncClient,
    act_as: Callable[[Actor], None],
    admin: Actor,
    fake: FakeUpstream,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    act_as(admin)
    seen: list[str] = []

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, f"/api/pool{path}", **kwargs)
        seen.append(response.text)
        return response

    created = await call("POST", "/accounts", json=_body(fake))
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["credential_last4"] == FAKE_KEY[-4:]
    assert account["monthly_spend_cap"] == "250.50"
    assert account["monthly_spend_cap_micros"] == 250_500_000
    path = f"/accounts/{account['id']}"

    assert (await call("GET", "/accounts")).json()["items"][0]["name"] == "Main"
    assert (await call("GET", path)).json()["state"] == "active"
    assert (await call("GET", "/accounts/by-name/main")).json()["id"] == account["id"]
    edited = await call("PATCH", path, json={"weight": 5, "tags": ["primary"]})
    assert edited.json()["weight"] == 5
    assert edited.json()["tags"] == ["primary"]

    tested = (await call("POST", f"{path}/test")).json()
    assert tested["probe"]["ok"] is True
    assert tested["account"]["last_probe_outcome"] == "ok"

    disabled = await call("POST", f"{path}/disable", json={"reason": "maintenance"})
    assert disabled.json()["state"] == "disabled"
    assert (await call("POST", f"{path}/reset")).status_code == 409
    assert (await call("POST", f"{path}/enable")).json()["state"] == "active"
    assert (await call("POST", f"{path}/reset")).json()["state"] == "active"

    rotated = (
        await call("POST", f"{path}/credential", json={"api_key": NEW_KEY, "probe": True})
    ).json()
    assert rotated["account"]["credential_last4"] == "4242"
    assert rotated["probe"]["outcome"] == "auth_failed"
    assert rotated["account"]["state"] == "needs_attention"

    history = (await call("GET", f"{path}/history")).json()["items"]
    assert [h["to_state"] for h in history] == ["needs_attention", "active", "disabled"]
    assert history[0]["reason"] == "auth failed (401)"

    for text in seen:
        assert FAKE_KEY not in text
        assert NEW_KEY not in text
    assert FAKE_KEY not in caplog.text
    assert NEW_KEY not in caplog.text


async def test_invalid_input_is_a_422(
    client: httpx.AsyncClient, act_as: Callable[[Actor], None], admin: Actor, fake: FakeUpstream
) -> None:
    act_as(admin)
    response = await client.post(
        "/api/pool/accounts", json=_body(fake, monthly_spend_cap="1.0000001")
    )
    assert response.status_code == 422
    response = await client.post("/api/pool/accounts", json=_body(fake, base_url="not a url"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "pool_account_invalid"
    assert FAKE_KEY not in response.text


async def test_duplicate_name_is_a_409(
    client: httpx.AsyncClient, act_as: Callable[[Actor], None], admin: Actor, fake: FakeUpstream
) -> None:
    act_as(admin)
    assert (await client.post("/api/pool/accounts", json=_body(fake))).status_code == 201
    response = await client.post("/api/pool/accounts", json=_body(fake, name="MAIN"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "pool_account_name_taken"


async def test_members_see_only_the_redacted_status(
    client: httpx.AsyncClient,
    act_as: Callable[[Actor], None],
    admin: Actor,
    member: Actor,
    fake: FakeUpstream,
) -> None:
    act_as(admin)
    await client.post("/api/pool/accounts", json=_body(fake, name="HiddenName"))
    act_as(member)
    assert (await client.get("/api/pool/accounts")).status_code == 403
    status = await client.get("/api/pool/status")
    assert status.status_code == 200
    assert status.json()["degraded"] is False
    assert {m["model"] for m in status.json()["models"]} == {"claude-sonnet-4-5", "claude-*"}
    assert "HiddenName" not in status.text
    assert fake.url not in status.text
