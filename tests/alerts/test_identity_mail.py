"""Identity mail through the outbox (issue 19): with SMTP configured, an invitation and a reset
link are e-mailed (a real SMTP server, aiosmtpd), the admin sees only where each went, the link
in the mail works once, and the outbox keeps the mail's body sealed."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from tests.users.factories import PASSWORD
from tests.users.test_api import _user_with_token

from spectra.alerts import deliver
from spectra.alerts.models import AlertDelivery
from spectra.db.session import read_scope
from spectra.runtime import Runtime

from .receivers import smtp_server, text_of
from .test_channels import _settings


async def _drain() -> None:
    deliverer = deliver.current()
    assert deliverer is not None
    await deliverer.wait_idle()
    await deliverer.deliver_due()


def _link(text: str) -> str:
    match = re.search(r"(http\S+/console/setup\?token=(\S+))", text)
    assert match is not None, text
    return match.group(2)


async def test_an_invitation_and_a_reset_link_are_mailed_and_the_admin_sees_only_the_address(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    _, headers = await _user_with_token(runtime)
    async with smtp_server() as (box, port):
        await _settings(
            runtime,
            smtp_host="127.0.0.1",
            smtp_port=str(port),
            smtp_from="spectra@example.com",
            smtp_starttls="false",
        )
        created = await client.post(
            "/api/users",
            json={"email": "invitee@example.com", "name": "Ivy", "invite": True},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        link = created.json()["setup_link"]
        assert link["sent_to"] == "invitee@example.com"
        assert link["token"] is None
        assert link["url"] is None
        await _drain()
        assert len(box.messages) == 1
        invitation = box.messages[0]
        assert invitation["To"] == "invitee@example.com"
        assert invitation["Subject"] == "You are invited to Spectra"
        text = text_of(invitation)
        assert text.startswith("Hello Ivy,")
        token = _link(text)
        async with read_scope(runtime.db) as session:
            stored = (await session.execute(select(AlertDelivery))).scalars().all()
        assert [(d.recipient, d.status, d.body_sealed) for d in stored] == [
            ("invitee@example.com", "delivered", True)
        ]
        assert token not in stored[0].body

        done = await client.post("/api/auth/setup", json={"token": token, "password": PASSWORD})
        assert done.status_code == 200, done.text
        again = await client.post("/api/auth/setup", json={"token": token, "password": PASSWORD})
        assert again.json()["error"]["code"] == "setup_link_invalid"

        reset = await client.post("/api/users/invitee@example.com/setup-link", headers=headers)
        assert reset.status_code == 201, reset.text
        assert reset.json()["sent_to"] == "invitee@example.com"
        await _drain()
        assert len(box.messages) == 2
        assert box.messages[1]["Subject"] == "Set your Spectra password"
        second = _link(text_of(box.messages[1]))
        assert second != token
        ok = await client.post("/api/auth/setup", json={"token": second, "password": PASSWORD})
        assert ok.status_code == 200, ok.text


async def test_without_smtp_the_link_is_shown_as_before(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    _, headers = await _user_with_token(runtime)
    created = await client.post(
        "/api/users", json={"email": "plain@example.com", "invite": True}, headers=headers
    )
    link = created.json()["setup_link"]
    assert link["sent_to"] is None
    assert link["url"].endswith(link["token"])
    async with read_scope(runtime.db) as session:
        assert (await session.execute(select(AlertDelivery))).scalars().all() == []
