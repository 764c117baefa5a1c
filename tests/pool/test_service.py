"""Pool service functions: DB state, audit rows, permissions, and no credential anywhere."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import select
from tests.factories import make_group
from tests.fakes.upstream import FakeUpstream

from spectra.audit.actor import Actor
from spectra.db.models import ChangeFeedEntry
from spectra.db.serverkey import ServerKeys
from spectra.db.session import Session
from spectra.kit import crypto
from spectra.pool import service as pool_service
from spectra.pool.errors import (
    AccountDisabledError,
    AccountInvalidError,
    AccountNameTakenError,
    AccountNotFoundError,
    CredentialMissingError,
)
from spectra.pool.models import PoolAccountTransition
from spectra.pool.schemas import AccountCreate, AccountUpdate
from spectra.users.permissions import PermissionDeniedError

from .conftest import FAKE_KEY
from .factories import make_account
from .helpers import dump_database, last_audit

pytestmark = pytest.mark.usefixtures("server_keys")


async def _transitions(session: Session, account_id: uuid.UUID) -> list[PoolAccountTransition]:
    rows = await session.execute(
        select(PoolAccountTransition)
        .where(PoolAccountTransition.account_id == account_id)
        .order_by(PoolAccountTransition.id)
    )
    return list(rows.scalars())


class TestAddAccount:
    async def test_stores_account_with_sealed_credential(
        self, session: Session, admin: Actor, server_keys: ServerKeys
    ) -> None:
        account = await make_account(
            session,
            admin,
            name="Main",
            base_url="https://api.anthropic.com/",
            models=["claude-*", "claude-sonnet-4-5"],
            aliases={"sonnet": "claude-sonnet-4-5"},
            priority=1,
            weight=50,
            max_concurrency=4,
            rpm_cap=60,
            tpm_cap=100_000,
            monthly_spend_cap="500.00",
            tags=["team"],
            notes="primary",
        )
        assert account.name_key == "main"
        assert account.base_url == "https://api.anthropic.com"
        assert account.credential_last4 == FAKE_KEY[-4:]
        assert FAKE_KEY not in account.credential_ciphertext
        assert account.credential_key_version == 1
        assert account.credential_ciphertext.startswith("v1.")
        key = server_keys.credentials_key(1)
        assert (
            crypto.decrypt(key, account.credential_ciphertext, associated=account.id.bytes)
            == FAKE_KEY
        )
        assert account.monthly_spend_cap_micros == 500_000_000
        assert account.state == "active"

    async def test_audits_without_the_credential(self, session: Session, admin: Actor) -> None:
        account = await make_account(session, admin, name="Audited")
        event = await last_audit(session)
        assert event.action == "pool.account_added"
        assert event.target_id == str(account.id)
        assert event.actor_label == admin.label
        assert event.after is not None
        assert event.after["name"] == "Audited"
        assert FAKE_KEY not in repr((event.before, event.after, event.details))

    async def test_records_a_change(self, session: Session, admin: Actor) -> None:
        account = await make_account(session, admin)
        kinds = (
            (
                await session.execute(
                    select(ChangeFeedEntry.kind).where(ChangeFeedEntry.entity_id == str(account.id))
                )
            )
            .scalars()
            .all()
        )
        assert "pool.account" in kinds

    async def test_name_is_unique_regardless_of_case(self, session: Session, admin: Actor) -> None:
        await make_account(session, admin, name="Shared")
        with pytest.raises(AccountNameTakenError):
            await make_account(session, admin, name="shared")

    async def test_rejects_a_bad_base_url(self, session: Session, admin: Actor) -> None:
        with pytest.raises(AccountInvalidError, match="base URL"):
            await make_account(session, admin, base_url="ftp://example.com")

    async def test_rejects_an_empty_credential(self, session: Session, admin: Actor) -> None:
        with pytest.raises(CredentialMissingError):
            await make_account(session, admin, api_key="   ")

    async def test_rejects_an_alias_to_an_unserved_model(
        self, session: Session, admin: Actor
    ) -> None:
        with pytest.raises(AccountInvalidError, match="alias"):
            await make_account(session, admin, models=["claude-*"], aliases={"fast": "gpt-5"})

    async def test_fixed_cost_basis_needs_a_cost(self, session: Session, admin: Actor) -> None:
        with pytest.raises(AccountInvalidError, match="fixed monthly"):
            await make_account(session, admin, cost_basis="fixed_monthly")
        account = await make_account(
            session, admin, cost_basis="fixed_monthly", fixed_monthly_cost="200"
        )
        assert account.fixed_monthly_cost_micros == 200_000_000

    async def test_resolves_dedicated_groups_by_name(self, session: Session, admin: Actor) -> None:
        group = await make_group(session, name="Platform")
        account = await make_account(session, admin, groups=["platform"])
        assert account.group_ids == [str(group.id)]
        with pytest.raises(AccountInvalidError, match="no group"):
            await make_account(session, admin, groups=["nope"])

    async def test_members_may_not_add(self, session: Session, member: Actor) -> None:
        with pytest.raises(PermissionDeniedError):
            await make_account(session, member)

    async def test_never_logs_the_credential(
        self, session: Session, admin: Actor, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        await make_account(session, admin)
        assert FAKE_KEY not in caplog.text


class TestUpdateAccount:
    async def test_changes_given_fields_and_audits_before_after(
        self, session: Session, admin: Actor
    ) -> None:
        account = await make_account(session, admin, rpm_cap=60)
        data = AccountUpdate.model_validate(
            {"weight": 7, "rpm_cap": None, "models": ["claude-*", "gpt-*"]}
        )
        await pool_service.update_account(session, admin, account_id=account.id, data=data)
        assert account.weight == 7
        assert account.rpm_cap is None
        assert account.models == ["claude-*", "gpt-*"]
        event = await last_audit(session)
        assert event.action == "pool.account_updated"
        assert event.before == {"weight": 100, "rpm_cap": 60, "models": ["claude-*"]}
        assert event.after == {"weight": 7, "rpm_cap": None, "models": ["claude-*", "gpt-*"]}

    async def test_rename_to_a_taken_name_is_refused(self, session: Session, admin: Actor) -> None:
        await make_account(session, admin, name="One")
        two = await make_account(session, admin, name="Two")
        with pytest.raises(AccountNameTakenError):
            await pool_service.update_account(
                session, admin, account_id=two.id, data=AccountUpdate(name="ONE")
            )

    async def test_unknown_account(self, session: Session, admin: Actor) -> None:
        with pytest.raises(AccountNotFoundError):
            await pool_service.update_account(
                session, admin, account_id=uuid.uuid4(), data=AccountUpdate(weight=2)
            )


class TestRotateCredential:
    async def test_reseals_and_audits_only_last_four(self, session: Session, admin: Actor) -> None:
        account = await make_account(session, admin)
        old = account.credential_ciphertext
        new_key = "sk-rotated-secret-9999"
        _, outcome = await pool_service.rotate_credential(
            session, admin, account_id=account.id, api_key=new_key, run_probe=False
        )
        assert outcome is None
        assert account.credential_ciphertext != old
        assert account.credential_last4 == "9999"
        event = await last_audit(session)
        assert event.action == "pool.credential_rotated"
        assert event.details == {"previous_last4": FAKE_KEY[-4:], "new_last4": "9999"}
        dump = await dump_database(session)
        assert new_key not in dump
        assert FAKE_KEY not in dump

    async def test_probe_after_rotation_lifts_needs_attention(
        self, session: Session, admin: Actor, fake: FakeUpstream
    ) -> None:
        account = await make_account(
            session, admin, base_url=fake.url, api_key="sk-revoked-key-0000"
        )
        _, outcome = await pool_service.test_account(session, admin, account_id=account.id)
        assert outcome.failure_type == "auth_failed"
        assert account.state == "needs_attention"
        _, healed = await pool_service.rotate_credential(
            session, admin, account_id=account.id, api_key=FAKE_KEY
        )
        assert healed is not None
        assert healed.ok
        assert account.state == "active"
        states = [(t.from_state, t.to_state) for t in await _transitions(session, account.id)]
        assert states == [("active", "needs_attention"), ("needs_attention", "active")]


class TestDisableEnableReset:
    async def test_disable_then_enable(self, session: Session, admin: Actor) -> None:
        account = await make_account(session, admin)
        await pool_service.disable_account(
            session, admin, account_id=account.id, reason="maintenance"
        )
        assert account.state == "disabled"
        assert account.state_reason == "disabled by an admin: maintenance"
        event = await last_audit(session)
        assert event.action == "pool.account_disabled"
        assert event.before == {"state": "active", "state_reason": "added"}
        await pool_service.enable_account(session, admin, account_id=account.id)
        assert account.state == "active"
        rows = await _transitions(session, account.id)
        assert [(r.to_state, r.actor_label) for r in rows] == [
            ("disabled", admin.label),
            ("active", admin.label),
        ]

    async def test_reset_of_a_disabled_account_is_refused(
        self, session: Session, admin: Actor
    ) -> None:
        account = await make_account(session, admin)
        await pool_service.disable_account(session, admin, account_id=account.id)
        with pytest.raises(AccountDisabledError, match="enable it"):
            await pool_service.reset_account_state(session, admin, account_id=account.id)

    async def test_reset_returns_needs_attention_to_active(
        self, session: Session, admin: Actor, fake: FakeUpstream
    ) -> None:
        account = await make_account(session, admin, base_url=fake.url, api_key="sk-wrong-key-1111")
        await pool_service.test_account(session, admin, account_id=account.id)
        assert account.state == "needs_attention"
        await pool_service.reset_account_state(session, admin, account_id=account.id)
        assert account.state == "active"
        assert (await last_audit(session)).action == "pool.account_state_reset"

    async def test_auditors_may_read_but_not_disable(
        self, session: Session, admin: Actor, auditor: Actor
    ) -> None:
        account = await make_account(session, admin)
        assert (
            await pool_service.get_account(session, auditor, account_id=account.id)
        ).id == account.id
        with pytest.raises(PermissionDeniedError):
            await pool_service.disable_account(session, auditor, account_id=account.id)


class TestTestAccount:
    async def test_anthropic_ok_records_latency(
        self, session: Session, admin: Actor, fake: FakeUpstream
    ) -> None:
        account = await make_account(
            session, admin, base_url=fake.url, models=["claude-sonnet-4-5", "claude-*"]
        )
        _, outcome = await pool_service.test_account(session, admin, account_id=account.id)
        assert outcome.ok
        assert outcome.latency_ms >= 0
        assert account.last_probe_outcome == "ok"
        assert account.last_probe_latency_ms == outcome.latency_ms
        assert fake.requests[-1].path == "/v1/messages/count_tokens"
        assert fake.requests[-1].json()["model"] == "claude-sonnet-4-5"
        event = await last_audit(session)
        assert event.action == "pool.account_tested"
        assert event.details is not None
        assert event.details["outcome"] == "ok"

    async def test_openai_uses_models_list(
        self, session: Session, admin: Actor, fake: FakeUpstream
    ) -> None:
        account = await make_account(
            session, admin, provider="openai", base_url=fake.url + "/v1", models=["gpt-*"]
        )
        _, outcome = await pool_service.test_account(session, admin, account_id=account.id)
        assert outcome.ok
        assert fake.requests[-1].path == "/v1/models"
        assert fake.requests[-1].header("authorization") == f"Bearer {FAKE_KEY}"

    async def test_unreachable_upstream_is_a_connect_error(
        self, session: Session, admin: Actor
    ) -> None:
        account = await make_account(session, admin, base_url="http://127.0.0.1:9")
        _, outcome = await pool_service.test_account(session, admin, account_id=account.id)
        assert not outcome.ok
        assert outcome.failure_type == "connect_error"
        assert account.last_probe_outcome == "connect_error"
        assert account.state == "active"

    async def test_probe_success_heals_a_failing_account(
        self, session: Session, admin: Actor, fake: FakeUpstream
    ) -> None:
        account = await make_account(session, admin, base_url=fake.url)
        account.state, account.state_reason = "failing", "3 failures within 120s"
        await session.flush()
        await pool_service.test_account(session, admin, account_id=account.id)
        assert account.state == "active"
        assert account.state_reason == "probe succeeded"


class TestHistoryAndStatus:
    async def test_history_newest_first(self, session: Session, admin: Actor) -> None:
        account = await make_account(session, admin)
        await pool_service.disable_account(session, admin, account_id=account.id)
        await pool_service.enable_account(session, admin, account_id=account.id)
        page = await pool_service.list_history(session, admin, account_id=account.id)
        assert [t.to_state for t in page.items] == ["active", "disabled"]

    async def test_member_status_counts_without_names(
        self, session: Session, admin: Actor, member: Actor
    ) -> None:
        ok = await make_account(
            session, admin, name="SecretName", models=["gpt-5-codex"], provider="openai"
        )
        down = await make_account(session, admin, models=["gpt-5-codex"], provider="openai")
        down.state, down.state_reason = "needs_attention", "auth failed"
        await session.flush()
        status = await pool_service.pool_status(session, member)
        assert status["degraded"] is True
        codex = next(m for m in status["models"] if m["model"] == "gpt-5-codex")
        assert codex == {"model": "gpt-5-codex", "accounts": 2, "available": 1, "degraded": True}
        assert "SecretName" not in repr(status)
        assert ok.name not in repr(status)

    async def test_members_may_not_list_accounts(self, session: Session, member: Actor) -> None:
        with pytest.raises(PermissionDeniedError):
            await pool_service.list_accounts(session, member)


async def test_no_credential_in_any_table(
    session: Session, admin: Actor, fake: FakeUpstream
) -> None:
    account = await make_account(session, admin, base_url=fake.url)
    await pool_service.test_account(session, admin, account_id=account.id)
    await pool_service.update_account(
        session, admin, account_id=account.id, data=AccountUpdate(notes="x")
    )
    await pool_service.disable_account(session, admin, account_id=account.id)
    dump = await dump_database(session)
    assert account.name in dump
    assert FAKE_KEY not in dump


async def test_create_schema_never_echoes_the_key() -> None:
    data = AccountCreate.model_validate(
        {
            "name": "x",
            "provider": "openai",
            "base_url": "https://a.b",
            "api_key": FAKE_KEY,
            "models": ["gpt-5"],
        }
    )
    assert FAKE_KEY not in repr(data)
    assert FAKE_KEY not in data.model_dump_json()
