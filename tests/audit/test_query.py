"""Querying and exporting the audit log: filters, cursor pages, CSV and JSON lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tests.factories import make_user

from spectra.audit import service as audit_service
from spectra.audit.actor import local_actor, user_actor
from spectra.audit.service import AuditFilter
from spectra.db.session import Session, session_scope
from spectra.errors import SpectraError
from spectra.keys import service as keys_service
from spectra.kit import clock as clock_module
from spectra.runtime import Runtime
from spectra.users import service as users_service
from spectra.users.permissions import PermissionDeniedError

ALICE = user_actor(user_id=None, email="alice@example.com", role="admin", via="token")  # type: ignore[arg-type]


async def _seed(session: Session) -> None:
    clock_module.freeze(datetime(2026, 11, 1, 9, tzinfo=UTC))
    await audit_service.record(
        session,
        local_actor(),
        "ledger.recharge",
        target_type="user",
        target_id="u1",
        after={"amount_micros": 5},
    )
    clock_module.advance(timedelta(days=10))
    await audit_service.record(session, ALICE, "ledger.refund", target_type="user", target_id="u2")
    clock_module.advance(timedelta(days=10))
    await audit_service.record(session, ALICE, "users.create", target_type="user", target_id="u1")
    await audit_service.record(
        session, local_actor(), "ledger_x.other", target_type="pool", target_id="a1"
    )


async def _actions(session: Session, where: AuditFilter) -> list[str]:
    page = await users_service.list_audit_events(session, local_actor(), where=where)
    return [e.action for e in page.items]


class TestListAuditEvents:
    async def test_filters_by_action_prefix_actor_target_and_time(
        self, session: Session, clock: datetime
    ) -> None:
        await _seed(session)
        assert await _actions(session, AuditFilter(action="ledger.*")) == [
            "ledger.refund",
            "ledger.recharge",
        ]
        assert await _actions(session, AuditFilter(action="users.create")) == ["users.create"]
        assert await _actions(session, AuditFilter(actor="alice@example.com")) == [
            "users.create",
            "ledger.refund",
        ]
        assert await _actions(session, AuditFilter(target_type="user", target_id="u1")) == [
            "users.create",
            "ledger.recharge",
        ]
        november_10_to_20 = AuditFilter(
            since=datetime(2026, 11, 10, tzinfo=UTC), until=datetime(2026, 11, 20, tzinfo=UTC)
        )
        assert await _actions(session, november_10_to_20) == ["ledger.refund"]

    async def test_pages_newest_first(self, session: Session, clock: datetime) -> None:
        await _seed(session)
        first = await users_service.list_audit_events(
            session, local_actor(), where=AuditFilter(), limit=3
        )
        second = await users_service.list_audit_events(
            session, local_actor(), where=AuditFilter(), limit=3, cursor=first.next_cursor
        )
        ids = [e.id for e in first.items] + [e.id for e in second.items]
        assert ids == sorted(ids, reverse=True)
        assert len(set(ids)) == len(ids)
        assert second.next_cursor is None

    async def test_a_member_cannot_read_the_log(self, session: Session) -> None:
        member = await make_user(session)
        actor = user_actor(user_id=member.id, email=member.email, role="member", via="session")
        with pytest.raises(PermissionDeniedError):
            await users_service.list_audit_events(session, actor, where=AuditFilter())

    async def test_refuses_a_backwards_time_range(self, session: Session) -> None:
        where = AuditFilter(
            since=datetime(2026, 11, 2, tzinfo=UTC), until=datetime(2026, 11, 1, tzinfo=UTC)
        )
        with pytest.raises(SpectraError):
            await users_service.list_audit_events(session, local_actor(), where=where)


class TestExportAuditEvents:
    async def test_csv_has_a_header_and_one_line_per_event_oldest_first(
        self, session: Session, clock: datetime
    ) -> None:
        await _seed(session)
        lines = await users_service.export_audit_events(
            session, local_actor(), where=AuditFilter(action="ledger.*"), fmt="csv"
        )
        text = "".join([line async for line in lines])
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["action"] for r in rows] == ["ledger.recharge", "ledger.refund"]
        assert json.loads(rows[0]["after"]) == {"amount_micros": 5}

    async def test_jsonl_is_one_object_per_line(self, session: Session, clock: datetime) -> None:
        await _seed(session)
        lines = await users_service.export_audit_events(
            session, local_actor(), where=AuditFilter(), fmt="jsonl"
        )
        records = [json.loads(line) async for line in lines]
        assert [r["action"] for r in records] == [
            "ledger.recharge",
            "ledger.refund",
            "users.create",
            "ledger_x.other",
        ]
        assert all(len(r["hash"]) == 64 for r in records)


async def test_the_api_streams_an_export(runtime: Runtime, client: httpx.AsyncClient) -> None:
    async with session_scope(runtime.db) as session:
        auditor = await make_user(session, role="auditor")
        _, secret = await keys_service.create_token(session, local_actor(), user_id=auditor.id)
        await audit_service.record(
            session, local_actor(), "ledger.recharge", target_type="user", target_id="x"
        )
    headers = {"authorization": f"Bearer {secret}"}
    response = await client.get(
        "/api/audit/export", params={"format": "csv", "action": "ledger.*"}, headers=headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == ["ledger.recharge"]
    verify = await client.get("/api/audit/verify", headers=headers)
    assert verify.json()["ok"] is True
