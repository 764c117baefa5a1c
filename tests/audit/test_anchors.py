"""The keyed chain and its anchors: deleting the newest events, rewriting the chain whole
without the server secret, or forging an anchor is named by `verify`."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from tests.audit.test_tamper import chained_rows

from spectra.audit import service as audit_service
from spectra.audit.actor import SYSTEM
from spectra.audit.anchors import AnchorLog, sign
from spectra.audit.models import AuditChainState, AuditEvent
from spectra.audit.verify import anchor_head
from spectra.db.serverkey import ServerKeys
from spectra.db.session import Session


@pytest.fixture
def anchor_log(tmp_path: Path, server_keys: ServerKeys) -> AnchorLog:
    return AnchorLog(path=tmp_path / "anchors.jsonl", key=server_keys.audit_anchor_key)


async def _seed(session: Session, count: int, *, key: bytes | None = None) -> None:
    await session.execute(insert(AuditEvent), chained_rows(count, key=key))


async def _set_legacy_until(session: Session, value: int) -> None:
    await session.execute(text("DELETE FROM audit_chain_state"))
    await session.execute(insert(AuditChainState), [{"id": 1, "legacy_until": value}])


async def _rewrite_plain(session: Session, count: int) -> None:
    """What someone with database access but not the secret can do: rehash every row."""
    for row in chained_rows(count, key=b""):
        await session.execute(
            text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
            {"p": row["prev_hash"], "h": row["hash"], "id": row["id"]},
        )
    session.expunge_all()


async def _verify(session: Session, anchor_log: AnchorLog) -> audit_service.ChainReport:
    session.expunge_all()
    return await audit_service.verify_chain(session, anchor_log=anchor_log)


class TestDeletionFromTheEnd:
    async def test_names_the_missing_events_against_the_latest_anchor(
        self, session: Session, anchor_log: AnchorLog
    ) -> None:
        await _seed(session, 30)
        anchor = await anchor_head(session, anchor_log)
        assert anchor is not None
        assert anchor.seq == 30
        await session.execute(text("DELETE FROM audit_events WHERE id > 25"))

        report = await _verify(session, anchor_log)

        assert not report.ok
        assert report.problems[0].event_id == 26
        assert report.problems[0].problem == (
            f"events 26–30 are missing: the anchor of {anchor.at:%Y-%m-%d %H:%M} UTC saw head 30"
        )

    async def test_names_a_chain_emptied_entirely(
        self, session: Session, anchor_log: AnchorLog
    ) -> None:
        await _seed(session, 3)
        await anchor_head(session, anchor_log)
        await session.execute(text("DELETE FROM audit_events"))

        report = await _verify(session, anchor_log)

        assert report.problems[0].problem.startswith("events 1–3 are missing")

    async def test_an_intact_chain_reports_the_anchor_it_matched(
        self, session: Session, anchor_log: AnchorLog
    ) -> None:
        await _seed(session, 10)
        await anchor_head(session, anchor_log)

        report = await _verify(session, anchor_log)

        assert report.ok
        assert report.head == 10
        assert report.anchor is not None
        assert report.anchor.seq == 10


class TestKeyedChain:
    async def test_a_chain_rewritten_whole_with_plain_sha256_fails(self, session: Session) -> None:
        await _seed(session, 20)
        await _rewrite_plain(session, 20)

        report = await audit_service.verify_chain(session)

        assert report.problems[0].event_id == 1
        assert "not keyed with this server's secret" in report.problems[0].problem

    async def test_a_chain_hashed_with_another_secret_fails(self, session: Session) -> None:
        other = ServerKeys(secret=b"b" * 32).audit_chain_key
        await _seed(session, 5, key=other)

        report = await audit_service.verify_chain(session)

        assert report.problems[0].event_id == 1
        assert "does not match its hash" in report.problems[0].problem

    async def test_events_from_before_keying_still_verify_as_plain_sha256(
        self, session: Session
    ) -> None:
        await _seed(session, 12, key=b"")
        await _set_legacy_until(session, 12)
        await audit_service.record(session, SYSTEM, "audit.test")

        report = await audit_service.verify_chain(session)

        assert report.ok
        assert report.checked == 13

    async def test_raising_the_legacy_bound_to_launder_a_rewrite_is_caught_by_the_anchor(
        self, session: Session, anchor_log: AnchorLog
    ) -> None:
        await _seed(session, 20)
        await anchor_head(session, anchor_log)
        await _rewrite_plain(session, 20)
        await _set_legacy_until(session, 20)

        report = await _verify(session, anchor_log)

        assert report.problems[0].event_id == 1
        assert "not keyed" in report.problems[0].problem


class TestAnchorLog:
    async def test_a_forged_anchor_line_fails_verification(
        self, session: Session, anchor_log: AnchorLog
    ) -> None:
        await _seed(session, 5)
        await anchor_head(session, anchor_log)
        forged = sign(
            ServerKeys(secret=b"b" * 32).audit_anchor_key,
            seq=5,
            hash="0" * 64,
            at=datetime(2026, 12, 7, 8, tzinfo=UTC),
            legacy_until=5,
        )
        with anchor_log.path.open("a") as fh:
            fh.write(json.dumps(forged.as_dict()) + "\n")

        report = await _verify(session, anchor_log)

        assert not report.ok
        assert "line 2 of the anchor log" in report.problems[0].problem
        assert "signature does not match" in report.problems[0].problem

    async def test_an_anchor_edited_to_cover_a_deletion_fails(
        self, session: Session, anchor_log: AnchorLog
    ) -> None:
        await _seed(session, 8)
        await anchor_head(session, anchor_log)
        line = json.loads(anchor_log.path.read_text())
        line["seq"] = 6
        anchor_log.path.write_text(json.dumps(line) + "\n")

        report = await _verify(session, anchor_log)

        assert "signature does not match" in report.problems[0].problem

    async def test_the_file_is_private_and_appended_only_when_the_head_moves(
        self, session: Session, anchor_log: AnchorLog
    ) -> None:
        await _seed(session, 4)
        assert await anchor_head(session, anchor_log) is not None
        assert await anchor_head(session, anchor_log) is None
        await audit_service.record(session, SYSTEM, "audit.test")
        moved = await anchor_head(session, anchor_log)

        assert moved is not None
        assert moved.seq == 5
        assert stat.S_IMODE(anchor_log.path.stat().st_mode) == 0o600
        assert [a.seq for a in anchor_log.read().anchors] == [4, 5]

    async def test_a_broken_chain_is_never_anchored(
        self, session: Session, anchor_log: AnchorLog, caplog: pytest.LogCaptureFixture
    ) -> None:
        await _seed(session, 6)
        await anchor_head(session, anchor_log)
        await session.execute(text("DELETE FROM audit_events WHERE id = 6"))
        await session.execute(insert(AuditEvent), [chained_rows(7)[6] | {"prev_hash": "f" * 64}])
        session.expunge_all()

        assert await anchor_head(session, anchor_log) is None
        assert [a.seq for a in anchor_log.read().anchors] == [6]
        assert "broken at event 7: event 6 is missing" in caplog.text

    async def test_an_anchor_log_that_cannot_be_read_fails_and_is_never_anchored_over(
        self, session: Session, tmp_path: Path, server_keys: ServerKeys
    ) -> None:
        await _seed(session, 3)
        unreadable = AnchorLog(path=tmp_path, key=server_keys.audit_anchor_key)  # a directory

        report = await _verify(session, unreadable)
        anchored = await anchor_head(session, unreadable)

        assert report.problems[0].problem.startswith(
            f"the anchor log {tmp_path}: it cannot be read"
        )
        assert anchored is None  # never anchored over a log it cannot read
