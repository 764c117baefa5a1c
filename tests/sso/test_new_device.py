"""A sign-in through SSO from a new device is mailed like a password sign-in (issue 19); the
browser that keeps its device cookie signs in again without a mail."""

from __future__ import annotations

from typing import Any

import httpx
from tests.alerts.receivers import smtp_server, text_of
from tests.alerts.test_channels import _settings
from tests.alerts.test_identity_mail import _drain
from tests.fakes.oidc import FakeIdp

from spectra.runtime import Runtime
from spectra.users.devices import DEVICE_COOKIE
from spectra.users.sso.models import SsoProvider

from .test_sign_in import _start


def _browser(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _sso(client: httpx.AsyncClient, idp: FakeIdp) -> None:
    response = await client.get(await _start(client, idp))
    assert response.status_code == 303, response.text
    assert DEVICE_COOKIE in response.cookies


async def test_a_new_device_through_sso_is_mailed(
    runtime: Runtime, app: Any, idp: FakeIdp, provider: SsoProvider
) -> None:
    async with smtp_server() as (box, port):
        await _settings(
            runtime,
            smtp_host="127.0.0.1",
            smtp_port=str(port),
            smtp_from="spectra@example.com",
            smtp_starttls="false",
        )
        async with _browser(app) as laptop:
            await _sso(laptop, idp)  # provisioned now: the first device mails nothing
            await _sso(laptop, idp)
            await _drain()
            assert box.messages == []
        async with _browser(app) as other:
            await _sso(other, idp)
            await _drain()
        assert [m["To"] for m in box.messages] == ["ada@example.com"]
        assert "/console/account/sessions" in text_of(box.messages[0])
