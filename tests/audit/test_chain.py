from __future__ import annotations

from sqlalchemy import text

from spectra.audit import service as audit_service
from spectra.audit.actor import SYSTEM, local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import Session


async def _record_many(session: Session, n: int) -> list[AuditEvent]:
    events = []
    for i in range(n):
        events.append(
            await audit_service.record(
                session,
                local_actor(),
                "users.create",
                target_type="user",
                target_id=str(i),
                target_label=f"u{i}@example.com",
                after={"n": i},
            )
        )
    return events


class TestRecord:
    async def test_events_chain_by_hash(self, session: Session) -> None:
        first, second = await _record_many(session, 2)
        assert second.prev_hash == first.hash
        assert second.id == first.id + 1

    async def test_secret_fields_never_enter_the_log(self, session: Session) -> None:
        event = await audit_service.record(
            session,
            SYSTEM,
            "pool.add",
            after={"api_key": "sk-live-123", "name": "a"},
            credential="sk-live-123",
        )
        assert event.after == {"api_key": "[redacted]", "name": "a"}
        assert event.details == {"credential": "[redacted]"}


class TestVerifyChain:
    async def test_an_untouched_chain_verifies(self, session: Session) -> None:
        await _record_many(session, 5)
        report = await audit_service.verify_chain(session)
        assert report.ok
        assert report.checked >= 5

    async def test_an_edited_row_is_named(self, session: Session) -> None:
        events = await _record_many(session, 5)
        await session.execute(
            text("UPDATE audit_events SET target_label = 'evil@example.com' WHERE id = :id"),
            {"id": events[2].id},
        )
        session.expire_all()
        report = await audit_service.verify_chain(session)
        assert not report.ok
        assert report.problems[0].event_id == events[2].id
        assert "changed" in report.problems[0].problem

    async def test_a_removed_row_is_named(self, session: Session) -> None:
        events = await _record_many(session, 5)
        await session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[1].id})
        session.expire_all()
        report = await audit_service.verify_chain(session)
        assert report.problems[0].event_id == events[2].id
        assert "missing" in report.problems[0].problem

    async def test_swapped_rows_are_caught(self, session: Session) -> None:
        events = await _record_many(session, 4)
        a, b = events[1], events[2]
        await session.execute(
            text("UPDATE audit_events SET target_id = 'tmp' WHERE id = :id"), {"id": a.id}
        )
        await session.execute(
            text("UPDATE audit_events SET target_id = :t WHERE id = :id"),
            {"id": a.id, "t": b.target_id},
        )
        await session.execute(
            text("UPDATE audit_events SET target_id = :t WHERE id = :id"),
            {"id": b.id, "t": a.target_id},
        )
        session.expire_all()
        report = await audit_service.verify_chain(session)
        assert report.problems[0].event_id == a.id

    async def test_verification_streams_in_batches(self, session: Session) -> None:
        await _record_many(session, 30)
        report = await audit_service.verify_chain(session, batch=7)
        assert report.ok
        assert report.checked >= 30
