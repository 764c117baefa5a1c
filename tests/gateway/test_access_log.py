"""The access log: one JSON line per gateway request, through the real app, never the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.config import Settings
from spectra.gateway import wiring as gateway_wiring
from spectra.gateway.access_log import AccessLog
from spectra.keys.secrets import display_prefix

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def access_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "access.jsonl"


@pytest.fixture
def settings(settings: Settings, access_path: Path) -> Settings:
    return settings.model_copy(update={"access_log": str(access_path)})


def lines(path: Path) -> list[dict[str, Any]]:
    gw = gateway_wiring.current()
    assert gw is not None
    assert gw.access is not None
    gw.access.drain()
    if not path.exists():
        return []
    return [json.loads(line) for line in text(path).splitlines()]


def text(path: Path) -> str:
    return path.read_text()


async def test_an_answered_request_leaves_one_line_with_its_numbers(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, access_path: Path
) -> None:
    fake.script(Reply(text="hello there", input_tokens=30, output_tokens=7))
    resp = await client.post(
        "/v1/chat/completions",
        headers=pooled.headers(),
        json={"model": OPENAI_MODEL, "messages": MESSAGES},
    )
    assert resp.status_code == 200
    await pooled.settle()
    [record] = await pooled.records()
    [line] = lines(access_path)
    assert line["request_id"] == resp.headers["x-spectra-request-id"] == record.request_id
    assert line["user"] == str(pooled.user_id)
    assert line["key"] == display_prefix(pooled.secret)
    assert line["model"] == OPENAI_MODEL
    assert line["account"] == str(pooled.accounts["openai-a"])
    assert (line["status"], line["code"], line["http"]) == ("ok", None, 200)
    assert (line["input_tokens"], line["output_tokens"]) == (30, 7)
    assert line["cost_micros"] == record.cost_micros > 0
    assert line["cost"].startswith("$")
    assert isinstance(line["latency_ms"], int)
    assert line["ttfb_ms"] == record.ttfb_ms
    assert line["ts"].endswith("Z")
    assert pooled.secret not in text(access_path)


async def test_a_stream_leaves_one_line(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, access_path: Path
) -> None:
    fake.script(Reply(text="abcdef", pieces=3, input_tokens=12, output_tokens=4))
    body = {"model": ANTHROPIC_MODEL, "max_tokens": 50, "messages": MESSAGES, "stream": True}
    async with client.stream(
        "POST", "/v1/messages", headers=pooled.headers(anthropic=True), json=body
    ) as resp:
        await resp.aread()
    await pooled.settle()
    [line] = lines(access_path)
    assert (line["status"], line["http"], line["stream"]) == ("ok", 200, True)
    assert (line["input_tokens"], line["output_tokens"]) == (12, 4)
    assert line["account"] == str(pooled.accounts["anthropic-a"])


async def test_refusals_leave_a_line_with_their_code(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream, access_path: Path
) -> None:
    bad_key = "sk-spectra-notakey0000000000000000"
    resp = await client.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {bad_key}"},
        json={"model": OPENAI_MODEL, "messages": MESSAGES},
    )
    assert resp.status_code == 401
    # A known key, an empty wallet: refused at admission, with a usage record.
    await world.add_account("a", provider="anthropic", base_url=fake.url, models=["claude-*"])
    resp = await client.post(
        "/v1/messages",
        headers=world.headers(anthropic=True),
        json={"model": ANTHROPIC_MODEL, "max_tokens": 10, "messages": MESSAGES},
    )
    assert resp.status_code == 402
    await world.settle()
    first, second = lines(access_path)
    assert (first["status"], first["code"], first["http"]) == ("refused", "invalid_api_key", 401)
    assert first["key"] is None
    assert (second["status"], second["code"]) == ("refused", "wallet_empty")
    assert second["key"] == display_prefix(world.secret)
    assert second["user"] == str(world.user_id)
    written = text(access_path)
    assert bad_key not in written
    assert world.secret not in written


def test_off_means_no_log() -> None:
    assert AccessLog.open("off") is None
    assert AccessLog.open("stderr") is not None
