"""A sign-in from a new device is mailed (issue 19): the account's first device is recorded
silently, a browser that keeps its device cookie is known, and a new cookie or another
browser family gets a mail (through the outbox, to a real SMTP server) with the time, the IP
address, the user agent and the link to review sessions. Only keyed hashes are stored."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select
from tests.users.factories import PASSWORD
from tests.users.test_api import _user_with_token

from spectra.db.session import read_scope
from spectra.runtime import Runtime
from spectra.users.devices import DEVICE_COOKIE
from spectra.users.models import KnownDevice

from .receivers import smtp_server, text_of
from .test_channels import _settings
from .test_identity_mail import _drain

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
FIREFOX_NEXT = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _client(app: Any, user_agent: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"user-agent": user_agent},
    )


async def _sign_in(client: httpx.AsyncClient, email: str) -> str:
    """Sign in; the device cookie the answer sets."""
    answer = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.cookies[DEVICE_COOKIE]


async def _mail_on(runtime: Runtime, port: int) -> None:
    await _settings(
        runtime,
        smtp_host="127.0.0.1",
        smtp_port=str(port),
        smtp_from="spectra@example.com",
        smtp_starttls="false",
    )


async def test_a_new_device_is_mailed_and_a_known_one_is_not(runtime: Runtime, app: Any) -> None:
    user, _ = await _user_with_token(runtime, role="member", email="ada@example.com", name="Ada")
    async with smtp_server() as (box, port):
        await _mail_on(runtime, port)
        async with _client(app, FIREFOX) as laptop:
            # The first device: nothing to compare with.
            cookie = await _sign_in(laptop, user.email)
            assert await _sign_in(laptop, user.email) == cookie
            laptop.headers["user-agent"] = FIREFOX_NEXT  # a browser update is no new device
            assert await _sign_in(laptop, user.email) == cookie
            await _drain()
            assert box.messages == []
        async with _client(app, CHROME) as phone:
            await _sign_in(phone, user.email)
            await _drain()
        assert len(box.messages) == 1
        mail = box.messages[0]
        assert mail["To"] == "ada@example.com"
        assert mail["Subject"] == "New sign-in to your Spectra account"
        text = text_of(mail)
        assert text.startswith("Hello Ada,")
        assert "IP address: 127.0.0.1" in text
        assert "Device:     Chrome on Linux" in text
        assert f"User agent: {CHROME}" in text
        assert re.search(r"Time: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text), text
        assert "/console/account/sessions" in text
    async with read_scope(runtime.db) as session:
        rows = (await session.execute(select(KnownDevice))).scalars().all()
    assert sorted(r.label for r in rows) == ["Chrome on Linux", "Firefox on Linux"]
    device_id = cookie.rpartition(".")[0]
    assert all(device_id not in r.device_hash for r in rows)
    assert all(len(r.device_hash) == 64 for r in rows)


async def test_the_same_cookie_in_another_browser_family_is_a_new_device(
    runtime: Runtime, app: Any
) -> None:
    user, _ = await _user_with_token(runtime, role="member", email="bob@example.com")
    async with smtp_server() as (box, port):
        await _mail_on(runtime, port)
        async with _client(app, FIREFOX) as client:
            await _sign_in(client, user.email)
            client.headers["user-agent"] = CHROME
            await _sign_in(client, user.email)
            await _drain()
        assert [m["To"] for m in box.messages] == ["bob@example.com"]
        assert "Chrome on Linux" in text_of(box.messages[0])


async def test_a_forged_device_cookie_counts_as_none(runtime: Runtime, app: Any) -> None:
    user, _ = await _user_with_token(runtime, role="member", email="cy@example.com")
    async with smtp_server() as (box, port):
        await _mail_on(runtime, port)
        async with _client(app, FIREFOX) as client:
            real = await _sign_in(client, user.email)
        device_id, _, mac = real.rpartition(".")
        forged = f"{device_id}x.{mac}"
        async with _client(app, FIREFOX) as client:
            client.cookies.set(DEVICE_COOKIE, forged)
            assert await _sign_in(client, user.email) not in (real, forged)
            await _drain()
        assert len(box.messages) == 1
        async with _client(app, FIREFOX) as client:
            client.cookies.set(DEVICE_COOKIE, real)
            assert await _sign_in(client, user.email) == real
            await _drain()
        assert len(box.messages) == 1
