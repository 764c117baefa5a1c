"""`spectra secret rotate-credentials` reseals the alert channels' targets and the SMTP
password under the new credential subkey in the same transaction: the channels still deliver
after it, and the previous subkey version no longer opens what is stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from spectra.alerts import deliver
from spectra.alerts import service as alerts_service
from spectra.alerts.models import AlertChannel
from spectra.alerts.rotation import rotate_secrets
from spectra.audit.models import AuditEvent
from spectra.db.models import ServerIdentity
from spectra.db.serverkey import get_server_keys, set_server_keys
from spectra.db.session import read_scope, session_scope
from spectra.kit import crypto
from spectra.runtime import Runtime
from spectra.workspace import service as workspace_service
from spectra.workspace.models import WorkspaceSetting

from .receivers import http_receiver, smtp_server
from .test_channels import OWNER, _channel, _deliveries, _drain, _raise, _settings


async def test_rotation_reseals_channels_and_smtp_password_and_they_still_deliver(
    runtime: Runtime,
) -> None:
    before = get_server_keys()
    try:
        await _rotate_and_deliver(runtime)
    finally:  # the identity row and process-wide keys the next test starts from
        async with session_scope(runtime.db) as session:
            await session.execute(
                update(ServerIdentity).values(credentials_key_version=before.credentials_version)
            )
        set_server_keys(before)


async def _rotate_and_deliver(runtime: Runtime) -> None:
    async with smtp_server() as (box, port), http_receiver() as (hits, url):
        await _settings(
            runtime,
            smtp_host="127.0.0.1",
            smtp_port=str(port),
            smtp_from="spectra@example.com",
            smtp_starttls="false",
            smtp_password="hunter2-smtp",
        )
        await _channel(runtime, "mail", "email", "finance@example.com")
        await _channel(runtime, "slack", "slack", f"{url}/services/T0/B0/XYZ")
        old_version = get_server_keys().credentials_version
        old_key = get_server_keys().credentials_key(old_version)

        async with session_scope(runtime.db) as session:
            counts = await rotate_secrets(session, OWNER)
        await runtime.feed.poll_once()
        assert counts == {"alert_channels": 2, "settings": 1, "credentials": 0}
        assert get_server_keys().credentials_version == old_version + 1

        async with read_scope(runtime.db) as session:
            channels = (await session.execute(select(AlertChannel))).scalars().all()
            stored = await session.get(WorkspaceSetting, "smtp_password")
            settings = await workspace_service.get_settings(session)
            event = (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "pool.credential_key_rotated")
                )
            ).scalar_one()
        assert stored is not None
        assert {c.key_version for c in channels} == {old_version + 1}
        for channel in channels:
            assert crypto.ciphertext_version(channel.target_ciphertext) == old_version + 1
            with pytest.raises(crypto.CredentialDecryptError):
                crypto.decrypt(old_key, channel.target_ciphertext, associated=channel.id.bytes)
        assert {alerts_service.unseal_target(c) for c in channels} == {
            "finance@example.com",
            f"{url}/services/T0/B0/XYZ",
        }
        with pytest.raises(crypto.CredentialDecryptError):
            crypto.decrypt(old_key, stored.value, associated=b"smtp_password")
        assert workspace_service.open_secret("smtp_password", stored.value) == "hunter2-smtp"
        with_user = settings.model_copy(update={"smtp_username": "spectra"})
        smtp = deliver.smtp_config(with_user)
        assert smtp is not None
        assert smtp.password == "hunter2-smtp"
        assert "hunter2" not in json.dumps(event.details)

        await _raise(runtime)
        await _drain()

    assert [m["To"] for m in box.messages] == ["finance@example.com"]
    assert [h.path for h in hits] == ["/services/T0/B0/XYZ"]
    assert sorted((d.kind, d.status) for d in await _deliveries(runtime)) == [
        ("email", "delivered"),
        ("slack", "delivered"),
    ]
