from __future__ import annotations

import pytest
from sqlalchemy import select

from spectra.audit.actor import Actor, ActorKind, local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import Session
from spectra.users.permissions import PermissionDeniedError
from spectra.workspace import service as workspace_service
from spectra.workspace.specs import InvalidSettingError, UnknownSettingError

ADMIN = Actor(kind=ActorKind.USER, label="admin@example.com", role="admin")


class TestGetSettings:
    async def test_defaults_when_nothing_is_stored(self, session: Session) -> None:
        ws = await workspace_service.get_settings(session)
        assert ws.currency == "USD"
        assert ws.time_zone == "UTC"
        assert ws.four_eyes_threshold_micros is None


class TestSetSetting:
    async def test_owner_changes_a_setting_and_it_is_audited(self, session: Session) -> None:
        result = await workspace_service.set_setting(
            session, local_actor(), name="four_eyes_threshold", value="250"
        )
        assert result.value == "250.00"
        ws = await workspace_service.get_settings(session)
        assert ws.four_eyes_threshold_micros == 250_000_000
        event = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "settings.set")))
            .scalars()
            .one()
        )
        assert event.before == {"value": "none"}
        assert event.after == {"value": "250.00"}

    async def test_an_admin_may_not_change_settings(self, session: Session) -> None:
        with pytest.raises(PermissionDeniedError, match="role 'admin'"):
            await workspace_service.set_setting(session, ADMIN, name="currency", value="EUR")

    @pytest.mark.parametrize(
        ("name", "value", "error"),
        [
            ("currency", "EURO", InvalidSettingError),
            ("time_zone", "Mars/Base", InvalidSettingError),
            ("max_recharge", "1.0000001", Exception),
            ("nope", "1", UnknownSettingError),
        ],
    )
    def test_bad_values_are_refused(self, name: str, value: str, error: type[Exception]) -> None:
        from spectra.workspace.specs import spec_for

        with pytest.raises(error):
            spec_for(name).parse(value)

    async def test_none_clears_an_optional_setting(self, session: Session) -> None:
        await workspace_service.set_setting(
            session, local_actor(), name="max_recharge", value="500"
        )
        await workspace_service.set_setting(
            session, local_actor(), name="max_recharge", value="none"
        )
        assert (await workspace_service.get_settings(session)).max_recharge_micros is None
