"""The approvals-waiting and keys-expiring limits are workspace settings: set through the settings
API (validated, audited) and used by the detection sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from tests.factories import make_user

from spectra.alerts.models import Alert
from spectra.alerts.wiring import run_detection
from spectra.audit.actor import Actor, local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import read_scope, session_scope
from spectra.keys import service as keys_service
from spectra.kit import clock as clock_module
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.runtime import Runtime
from spectra.workspace import service as workspace_service
from spectra.workspace.specs import InvalidSettingError, spec_for

OWNER = local_actor()


async def _events(runtime: Runtime) -> list[str]:
    async with read_scope(runtime.db) as session:
        return list((await session.execute(select(Alert.event).order_by(Alert.event))).scalars())


async def _put(client: httpx.AsyncClient, name: str, value: str) -> httpx.Response:
    return await client.put(f"/api/settings/{name}", json={"value": value})


async def test_the_limits_are_settings_the_sweep_uses(
    runtime: Runtime,
    client: httpx.AsyncClient,
    act_as: Callable[[Actor], None],
    clock: datetime,
) -> None:
    act_as(OWNER)
    async with session_scope(runtime.db) as session:
        member = await make_user(session)
        await workspace_service.set_setting(session, OWNER, name="four_eyes_threshold", value="100")
        await ledger_service.recharge(
            session,
            OWNER,
            user_id=member.id,
            amount=parse_amount("150"),
            memo="needs a second person",
            idempotency_key="settings-approval",
        )
        await keys_service.create_key(
            session, OWNER, user_id=member.id, name="ci", expires_at=clock + timedelta(days=10)
        )
    clock_module.advance(timedelta(hours=3))
    await runtime.feed.poll_once()
    # The defaults (24 hours, 7 days): neither has happened yet.
    assert await run_detection(runtime) == 0

    for name, value, before in (
        ("alert_approvals_waiting_hours", "2", "24"),
        ("alert_key_expiring_days", "14", "7"),
    ):
        resp = await _put(client, name, value)
        assert resp.status_code == 200, resp.text
        assert resp.json()["value"] == value
        async with read_scope(runtime.db) as session:
            event = (
                await session.execute(
                    select(AuditEvent).where(
                        AuditEvent.action == "settings.set", AuditEvent.target_id == name
                    )
                )
            ).scalar_one()
        assert (event.before, event.after) == ({"value": before}, {"value": value})
    await runtime.feed.poll_once()
    assert await run_detection(runtime) == 2
    assert await _events(runtime) == ["approvals_waiting", "key_expiring"]
    assert await run_detection(runtime) == 0


async def test_bad_limits_are_refused(
    runtime: Runtime, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
) -> None:
    act_as(OWNER)
    for name, value in (
        ("alert_approvals_waiting_hours", "0"),
        ("alert_approvals_waiting_hours", "8785"),
        ("alert_approvals_waiting_hours", "soon"),
        ("alert_key_expiring_days", "367"),
        ("alert_key_expiring_days", "-1"),
    ):
        resp = await _put(client, name, value)
        assert resp.status_code == 422, (name, value, resp.text)
        assert resp.json()["error"]["code"] == "invalid_setting"
    async with read_scope(runtime.db) as session:
        settings = await workspace_service.get_settings(session)
    assert (settings.alert_approvals_waiting_hours, settings.alert_key_expiring_days) == (24, 7)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [("alert_approvals_waiting_hours", "8784", 8784), ("alert_key_expiring_days", "366", 366)],
)
def test_the_largest_limits_parse(name: str, text: str, value: int) -> None:
    assert spec_for(name).parse(text) == value
    with pytest.raises(InvalidSettingError):
        spec_for(name).parse(str(value + 1))
