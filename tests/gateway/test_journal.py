"""The settlement journal: lines round-trip, a live process's file is never taken, committed
lines are dropped, and replay writes exactly what the database lacks (real database, real
gateway settlements). The kill -9 test with a real server: test_crash_journal.py."""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path

import httpx
import pytest
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.db.session import read_scope
from spectra.gateway import journal as journal_module
from spectra.gateway import wiring as gateway_wiring
from spectra.gateway.journal import SettlementJournal, decode, encode, orphans
from spectra.gateway.recovery import replay_orphans
from spectra.ledger.balance_view import LedgerTransactionSpec
from spectra.ledger.verify import verify_ledger
from spectra.runtime import Runtime
from spectra.usage.schemas import UsageRecordCreate

from .world import ANTHROPIC_MODEL, World

Entry = tuple[UsageRecordCreate, LedgerTransactionSpec | None]


async def _one_settlement(client: httpx.AsyncClient, world: World, fake: FakeUpstream) -> Entry:
    """A real request; returns the settlement the gateway journaled for it."""
    gateway = gateway_wiring.current()
    assert gateway is not None
    assert gateway.journal is not None
    seen: list[Entry] = []
    append = gateway.journal.append

    def spy(record: UsageRecordCreate, spec: LedgerTransactionSpec | None) -> object:
        seen.append((record, spec))
        return append(record, spec)

    gateway.journal.append = spy  # type: ignore[method-assign]
    try:
        fake.script(Reply(input_tokens=100, output_tokens=20))
        resp = await client.post(
            "/v1/messages",
            headers=world.headers(anthropic=True),
            json={
                "model": ANTHROPIC_MODEL,
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        assert resp.status_code == 200, resp.text
        await world.settle()
    finally:
        del gateway.journal.append
    (entry,) = seen
    return entry


def _files(directory: Path) -> list[Path]:
    return sorted(directory.glob("settle-*.jsonl"))


def _orphan(directory: Path, entries: list[Entry]) -> Path:
    path = directory / f"settle-dead-{uuid.uuid4().hex[:6]}-1.jsonl"
    path.write_bytes(b"".join(encode(r, s) for r, s in entries) + b'[["torn')
    return path


async def test_replay_writes_what_the_database_lacks_once(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, runtime: Runtime
) -> None:
    record, spec = await _one_settlement(client, pooled, fake)
    assert spec is not None
    assert decode(encode(record, spec)) == (record, spec)
    # A second settlement the dead process sent but never committed: same shape, its own keys.
    lost = dataclasses.replace(record, id=uuid.uuid4(), request_id="req_lost")
    lost_spec = dataclasses.replace(spec, idempotency_key=f"usage:{uuid.uuid4()}")
    wallet = await pooled.wallet_id()
    before = await pooled.balance(wallet)
    directory = runtime.settings.data_dir / "journal"
    path = _orphan(directory, [(record, spec), (lost, lost_spec)])

    assert await replay_orphans(runtime.db, directory) == 1
    assert not path.exists()
    records = {r.request_id: r for r in await pooled.records()}
    assert set(records) == {record.request_id, "req_lost"}
    assert records["req_lost"].id == lost.id
    assert records["req_lost"].cost_micros == record.cost_micros
    assert records["req_lost"].ledger_transaction_id is not None
    await pooled.settle()  # the replay announced the balances it moved
    assert await pooled.balance(wallet) == before - record.cost_micros

    # The same file again (a second process racing, or a crash mid-replay): nothing moves.
    _orphan(directory, [(record, spec), (lost, lost_spec)])
    assert await replay_orphans(runtime.db, directory) == 0
    assert len(await pooled.records()) == 2
    assert await pooled.balance(wallet) == before - record.cost_micros
    async with read_scope(runtime.db) as session:
        assert (await verify_ledger(session)).ok


async def test_a_live_process_journal_is_never_an_orphan(tmp_path: Path) -> None:
    live = SettlementJournal(tmp_path, fsync_interval=0)
    live.open()
    try:
        assert list(orphans(tmp_path)) == []
        dead = tmp_path / "settle-dead-1-1.jsonl"
        dead.write_bytes(b"")
        found = list(orphans(tmp_path))
        assert [p for p, _ in found] == [dead]
        for _, fd in found:
            os.close(fd)
    finally:
        await live.close()


async def test_committed_lines_are_truncated_and_rotated_files_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", 1000)
    journal = SettlementJournal(tmp_path, fsync_interval=0)
    journal.open()
    try:
        record = UsageRecordCreate(
            request_id="req_x", protocol="openai_chat", model_requested="gpt-5", status="ok"
        )
        tokens = [journal.append(record, None) for _ in range(10)]
        files = _files(tmp_path)
        assert len(files) > 1, "rotated at SEGMENT_BYTES"
        await journal.sync()
        assert sum(p.stat().st_size for p in files) > 0, "nothing committed: nothing dropped"
        for token in tokens:
            journal.done(token)
        await journal.sync()
        (current,) = _files(tmp_path)
        assert current.stat().st_size == 0
    finally:
        await journal.close()
    assert _files(tmp_path) == []


async def test_a_failing_journal_disk_costs_crash_safety_not_the_request(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = gateway_wiring.current()
    assert gateway is not None
    assert gateway.journal is not None

    def full(record: UsageRecordCreate, spec: LedgerTransactionSpec | None) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gateway.journal, "append", full)
    fake.script(Reply(input_tokens=100, output_tokens=20))
    resp = await client.post(
        "/v1/messages",
        headers=pooled.headers(anthropic=True),
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert resp.status_code == 200, resp.text
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.cost_micros > 0
    assert gateway.settler.journal_failed == 1


def test_every_id_and_time_field_survives_the_journal(tmp_path: Path) -> None:
    """A field added to UsageRecordCreate later (as project_id was) must encode without a
    change here: every uuid and datetime field set to a distinct value comes back equal."""
    from dataclasses import fields, replace
    from datetime import UTC, datetime, timedelta
    from typing import get_args, get_type_hints

    hints = get_type_hints(UsageRecordCreate)
    base = UsageRecordCreate(
        request_id="req-1", protocol="anthropic", model_requested="m", status="success"
    )
    changes: dict[str, object] = {}
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    for i, f in enumerate(fields(UsageRecordCreate)):
        kinds = (hints[f.name], *get_args(hints[f.name]))
        if uuid.UUID in kinds:
            changes[f.name] = uuid.UUID(int=i + 1)
        elif datetime in kinds:
            changes[f.name] = at + timedelta(seconds=i)
    assert "project_id" in changes
    assert "key_id" in changes
    record = replace(base, **changes)  # type: ignore[arg-type]
    assert decode(encode(record, None)) == (record, None)
