"""Each channel against a real receiver: mail through a real SMTP server (aiosmtpd) with the
settings from the workspace, and the exact Slack, Teams and signed-webhook payloads received over
HTTP; a failing receiver is retried with backoff until it gives up, and every outcome is kept."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from spectra.alerts import deliver
from spectra.alerts import service as alerts_service
from spectra.alerts.models import AlertDelivery
from spectra.alerts.schemas import ChannelCreate, RuleCreate
from spectra.audit.actor import local_actor
from spectra.db.session import read_scope, session_scope
from spectra.kit import clock as clock_module
from spectra.ledger.webhooks import verify_signature
from spectra.runtime import Runtime
from spectra.workspace import service as workspace_service
from spectra.workspace.models import WorkspaceSetting

from .receivers import http_receiver, smtp_server, text_of

OWNER = local_actor()


async def _settings(runtime: Runtime, **values: str) -> None:
    async with session_scope(runtime.db) as session:
        for name, value in values.items():
            await workspace_service.set_setting(session, OWNER, name=name, value=value)
    await runtime.feed.poll_once()


async def _channel(runtime: Runtime, name: str, kind: str, target: str) -> None:
    async with session_scope(runtime.db) as session:
        await alerts_service.add_channel(
            session, OWNER, data=ChannelCreate(name=name, kind=kind, target=target)
        )
        await alerts_service.add_rule(
            session, OWNER, data=RuleCreate(event="approvals_waiting", channel=name)
        )


async def _raise(runtime: Runtime, key: str = "approvals_waiting:x") -> None:
    async with session_scope(runtime.db) as session:
        await alerts_service.raise_alert(
            session,
            event="approvals_waiting",
            subject_kind="approval",
            subject_id="x",
            dedupe_key=key,
            title="An approval has waited 30 hours",
            message="An approval (x) has been waiting for 30 hours.",
            data={"hours": 30},
        )


async def _deliveries(runtime: Runtime) -> list[AlertDelivery]:
    async with read_scope(runtime.db) as session:
        rows = await session.execute(select(AlertDelivery).order_by(AlertDelivery.kind))
        return list(rows.scalars().all())


def _deliverer() -> deliver.Deliverer:
    current = deliver.current()
    assert current is not None
    return current


async def _drain() -> None:
    """Let the after-commit kick finish, then deliver whatever is still due."""
    await _deliverer().wait_idle()
    await _deliverer().deliver_due()


async def test_every_channel_receives_its_documented_payload(runtime: Runtime) -> None:
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
        await _channel(runtime, "teams", "teams", f"{url}/teams/workflow")
        await _channel(runtime, "hook", "webhook", f"{url}/hook")
        await _raise(runtime)
        await _raise(runtime)  # the same dedupe key: nothing more is queued
        assert len(await _deliveries(runtime)) == 4
        await _drain()
        assert await _deliverer().deliver_due() == 0

    assert [m["To"] for m in box.messages] == ["finance@example.com"]
    mail = box.messages[0]
    assert mail["From"] == "spectra@example.com"
    assert mail["Subject"] == "An approval has waited 30 hours"
    assert text_of(mail).strip() == ("An approval (x) has been waiting for 30 hours.")
    by_path = {h.path: h for h in hits}
    assert sorted(by_path) == ["/hook", "/services/T0/B0/XYZ", "/teams/workflow"]
    assert json.loads(by_path["/services/T0/B0/XYZ"].body) == {
        "text": "An approval has waited 30 hours: An approval (x) has been waiting for 30 hours.",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "An approval has waited 30 hours"},
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "An approval (x) has been waiting for 30 hours.",
                },
            },
        ],
    }
    teams = json.loads(by_path["/teams/workflow"].body)
    assert teams == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "An approval has waited 30 hours",
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {
                            "type": "TextBlock",
                            "text": "An approval (x) has been waiting for 30 hours.",
                            "wrap": True,
                        },
                    ],
                },
            }
        ],
    }
    hook = by_path["/hook"]
    assert verify_signature(
        runtime.keys.webhook_key, hook.body, hook.headers["X-Spectra-Signature"]
    )
    assert not verify_signature(b"other-key", hook.body, hook.headers["X-Spectra-Signature"])
    body = json.loads(hook.body)
    assert hook.headers["X-Spectra-Event"] == "alert.approvals_waiting"
    assert hook.headers["X-Spectra-Delivery"] == body["id"]
    assert body["event"] == "alert.approvals_waiting"
    assert body["subject_kind"] == "approval"
    assert body["data"] == {"hours": 30}
    assert [(d.kind, d.status, d.attempts) for d in await _deliveries(runtime)] == [
        ("email", "delivered", 1),
        ("slack", "delivered", 1),
        ("teams", "delivered", 1),
        ("webhook", "delivered", 1),
    ]
    async with read_scope(runtime.db) as session:
        stored = await session.get(WorkspaceSetting, "smtp_password")
        listed = {s.name: s.value for s in await workspace_service.list_settings(session, OWNER)}
    assert stored is not None
    assert "hunter2" not in json.dumps(stored.value)
    assert listed["smtp_password"] == "set"


async def test_a_failing_receiver_is_retried_with_backoff_then_given_up(
    runtime: Runtime, clock: datetime
) -> None:
    async with http_receiver(status=500) as (hits, url):
        await _channel(runtime, "slack", "slack", f"{url}/s")
        await _raise(runtime)
        deliverer = _deliverer()
        delays = []
        for attempt in range(1, deliverer.max_attempts + 1):
            await _drain()
            (row,) = await _deliveries(runtime)
            assert row.attempts == attempt
            assert row.last_error == "HTTP 500"
            if attempt < deliverer.max_attempts:
                assert row.status == "pending"
                delays.append((row.next_attempt_at - clock_module.utc_now()).total_seconds())
                assert await deliverer.deliver_due() == 0  # not due yet: nothing is sent
                assert len(hits) == attempt
                clock_module.advance(timedelta(seconds=delays[-1]))
        assert row.status == "failed"
        assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
        assert len(hits) == deliverer.max_attempts


async def test_quiet_hours_hold_a_delivery_until_they_end(
    runtime: Runtime, clock: datetime
) -> None:
    # The clock reads 10:00 UTC; the rule is quiet from 9 to 17 in Europe/Berlin (10:00 = 11:00).
    await _settings(runtime, time_zone="Europe/Berlin")
    async with http_receiver() as (hits, url):
        async with session_scope(runtime.db) as session:
            await alerts_service.add_channel(
                session, OWNER, data=ChannelCreate(name="s", kind="slack", target=f"{url}/q")
            )
            await alerts_service.add_rule(
                session,
                OWNER,
                data=RuleCreate(
                    event="approvals_waiting", channel="s", quiet_start_hour=9, quiet_end_hour=17
                ),
            )
        async with session_scope(runtime.db) as session:
            await alerts_service.raise_alert(
                session,
                event="approvals_waiting",
                subject_kind="approval",
                subject_id="q",
                dedupe_key="approvals_waiting:q",
                title="t",
                message="m",
                time_zone="Europe/Berlin",
            )
        (row,) = await _deliveries(runtime)
        assert row.next_attempt_at == clock + timedelta(hours=6)
        await _drain()
        assert hits == []
        clock_module.advance(timedelta(hours=6))
        await _drain()
        assert len(hits) == 1
