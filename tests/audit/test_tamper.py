"""The audit tamper test: rows edited, removed or reordered directly in SQL are named by
`verify`; verification streams in batches instead of loading every row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, text

from spectra.audit import service as audit_service
from spectra.audit.actor import local_actor
from spectra.audit.chain import GENESIS, chain_hash, event_payload
from spectra.audit.models import AuditEvent
from spectra.db.serverkey import get_server_keys
from spectra.db.session import Session
from spectra.users import service as users_service

START = datetime(2026, 11, 1, tzinfo=UTC)


def chained_rows(count: int, *, key: bytes | None = None) -> list[dict[str, Any]]:
    """`count` valid audit rows, built the way `record` builds them: keyed with the server's
    audit-chain subkey, or (`key=b""`) plain SHA-256 as before the chain was keyed."""
    chain_key = get_server_keys().audit_chain_key if key is None else key or None
    rows: list[dict[str, Any]] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        fields: dict[str, Any] = {
            "occurred_at": START + timedelta(seconds=seq),
            "actor_kind": "local",
            "actor_label": "local:tester",
            "actor_user_id": None,
            "action": "users.update" if seq % 2 else "ledger.recharge",
            "target_type": "user",
            "target_id": f"t{seq}",
            "target_label": f"user{seq}@example.com",
            "before": {"n": seq - 1},
            "after": {"n": seq},
            "details": None,
            "request_id": None,
            "client_ip": None,
        }
        digest = chain_hash(prev, event_payload(seq=seq, **fields), key=chain_key)
        rows.append({"id": seq, "prev_hash": prev, "hash": digest, **fields})
        prev = digest
    return rows


async def _seed(session: Session, count: int) -> None:
    rows = chained_rows(count)
    for start in range(0, count, 2000):
        await session.execute(insert(AuditEvent), rows[start : start + 2000])


async def _verify(session: Session) -> audit_service.ChainReport:
    session.expunge_all()
    return await users_service.verify_audit_chain(session, local_actor())


class TestVerifyChain:
    async def test_an_untouched_chain_is_intact(self, session: Session) -> None:
        await _seed(session, 30)
        report = await _verify(session)
        assert report.ok
        assert report.checked == 30

    async def test_names_an_event_edited_in_sql(self, session: Session) -> None:
        await _seed(session, 30)
        await session.execute(
            text("UPDATE audit_events SET target_label = 'someone-else@example.com' WHERE id = 12")
        )
        report = await _verify(session)
        assert [p.event_id for p in report.problems] == [12]
        assert "changed" in report.problems[0].problem

    async def test_names_the_next_event_when_one_is_rehashed_after_editing(
        self, session: Session
    ) -> None:
        await _seed(session, 30)
        rows = chained_rows(30)
        forged = {**rows[11], "after": {"n": 999}}
        payload = {k: forged[k] for k in forged if k not in ("id", "prev_hash", "hash")}
        new_hash = chain_hash(
            forged["prev_hash"],
            event_payload(seq=12, **payload),
            key=get_server_keys().audit_chain_key,
        )
        await session.execute(
            text("UPDATE audit_events SET after = :after, hash = :hash WHERE id = 12"),
            {"after": '{"n": 999}', "hash": new_hash},
        )
        report = await _verify(session)
        assert [p.event_id for p in report.problems] == [13]
        assert "link to the previous event is broken" in report.problems[0].problem

    async def test_names_the_gap_when_an_event_is_deleted(self, session: Session) -> None:
        await _seed(session, 30)
        await session.execute(text("DELETE FROM audit_events WHERE id = 7"))
        report = await _verify(session)
        assert [p.event_id for p in report.problems] == [8]
        assert "event 7 is missing" in report.problems[0].problem

    async def test_names_reordered_events(self, session: Session) -> None:
        await _seed(session, 30)
        await session.execute(text("UPDATE audit_events SET id = -1 WHERE id = 20"))
        await session.execute(text("UPDATE audit_events SET id = 20 WHERE id = 21"))
        await session.execute(text("UPDATE audit_events SET id = 21 WHERE id = -1"))
        report = await _verify(session)
        assert [p.event_id for p in report.problems] == [20]

    async def test_streams_twenty_thousand_events_in_batches(self, session: Session) -> None:
        await _seed(session, 20_000)
        statements: list[str] = []

        def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "FROM audit_events" in statement:
                statements.append(statement)

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            report = await audit_service.verify_chain(session, batch=1000)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert report.ok
        assert report.checked == 20_000
        assert len(statements) == 21  # 20 full batches and one empty read: never all rows at once
        assert all("LIMIT" in s.upper() for s in statements)
