"""The settlement journal: no charge lost to a killed process.

Settlements reach the database through the group committer, a few milliseconds after the answer
was sent. A process killed in between (`kill -9`, the OOM killer) would lose them: those members
used the pool for free. So each settlement (its usage record and ledger transaction) is first
appended as one JSON line to this process's journal file, BEFORE the answer's last byte is sent
(docs/money.md, "Crash safety"):

- one plain `write` per settlement on an `O_APPEND` descriptor: once it returns, the line is in
  the kernel's page cache and survives the process; no fsync per request. A timer fsyncs the file
  every `journal_fsync_interval` seconds: a power loss (or kernel crash) can lose at most the
  settlements of that interval that the committer had not committed either.
- one journal per process, `settle-<boot id>-<pid>-<n>.jsonl` in `<data dir>/journal/`, held
  under an exclusive `flock` while the process lives (the kernel drops it when the process dies,
  however it dies). A file whose lock can be taken is an orphan.
- when every line of a file is committed, it is truncated (the current file) or deleted (a file
  rotated away at `SEGMENT_BYTES`).
- at start, before serving, `replay_orphans` takes each orphan's lock and writes whatever the
  database does not have yet, idempotently: a record whose id is already written is skipped, and
  its ledger transaction is keyed by the hold's id (`usage:<hold id>`), which the ledger never
  writes twice. On PostgreSQL the replay also holds an advisory lock, so processes on hosts
  sharing a journal directory never replay the same lines at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, get_args, get_type_hints

from spectra.ledger.balance_view import LedgerTransactionSpec
from spectra.ledger.models import TransactionKind
from spectra.usage.schemas import FundingSource, UsageRecordCreate

log = logging.getLogger(__name__)

SEGMENT_BYTES = 16 * 1024 * 1024
"""A journal file this large is rotated (a new file takes the writes; the old one is deleted as
soon as its last line is committed)."""
PREFIX = "settle-"

_FIELDS = tuple(f.name for f in fields(UsageRecordCreate))
_GET = attrgetter(*_FIELDS)


def _fields_of(kind: type) -> frozenset[str]:
    """The record's fields typed `kind` or `kind | None`, read from its annotations, so a field
    added to UsageRecordCreate later is encoded right without touching this module."""
    hints = get_type_hints(UsageRecordCreate)
    return frozenset(n for n in _FIELDS if kind in (hints[n], *get_args(hints[n])))


_UUIDS = _fields_of(uuid.UUID)
_UUID_AT = tuple(i for i, name in enumerate(_FIELDS) if name in _UUIDS)
_TIMES = _fields_of(datetime)
_TIME_AT = tuple(i for i, name in enumerate(_FIELDS) if name in _TIMES)
_FUNDING_AT = _FIELDS.index("funding")
_dumps = json.dumps  # the default encoder: the C fast path (ids travel as 128-bit ints)


def boot_id() -> str:
    """This machine's boot id (Linux), so names from before a reboot never collide."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8] or "boot"
    except OSError:
        return "boot"


def encode(record: UsageRecordCreate, spec: LedgerTransactionSpec | None) -> bytes:
    """One journal line: the record's fields in `_FIELDS` order and the spec (or null)."""
    values = list(_GET(record))
    for i in _UUID_AT:
        if values[i] is not None:
            values[i] = values[i].int
    for i in _TIME_AT:
        if values[i] is not None:
            values[i] = values[i].isoformat()
    values[_FUNDING_AT] = [[f.account_id.int, f.kind, f.amount_micros] for f in values[_FUNDING_AT]]
    wire: list[Any] = [values, None]
    if spec is not None:
        wire[1] = [
            spec.kind.value,
            [[a.int, m] for a, m in spec.postings],
            spec.idempotency_key,
            spec.memo,
            spec.metadata or None,
            None if spec.hold_id is None else spec.hold_id.int,
        ]
    return (_dumps(wire) + "\n").encode()


def decode(line: bytes) -> tuple[UsageRecordCreate, LedgerTransactionSpec | None]:
    """The record and spec of one journal line (raises ValueError when it is not one)."""
    values, raw_spec = json.loads(line)
    if len(values) != len(_FIELDS):
        raise ValueError("a journal line from another version of the record")
    data = dict(zip(_FIELDS, values, strict=True))
    for name in _UUIDS:
        if data[name] is not None:
            data[name] = uuid.UUID(int=data[name])
    for name in _TIMES:
        if data[name] is not None:
            data[name] = datetime.fromisoformat(data[name])
    data["funding"] = tuple(
        FundingSource(uuid.UUID(int=a), k, int(m)) for a, k, m in data["funding"]
    )
    spec = None
    if raw_spec is not None:
        kind, postings, key, memo, metadata, hold_id = raw_spec
        spec = LedgerTransactionSpec(
            kind=TransactionKind(kind),
            postings=tuple((uuid.UUID(int=a), int(m)) for a, m in postings),
            idempotency_key=key,
            memo=memo,
            metadata=metadata or {},
            hold_id=None if hold_id is None else uuid.UUID(int=hold_id),
        )
    return UsageRecordCreate(**data), spec


@dataclass(slots=True)
class _Segment:
    path: Path
    fd: int
    pending: int = 0
    size: int = 0


class SettlementJournal:
    """This process's journal: `append` before the last byte, `done` once committed."""

    def __init__(self, directory: Path, *, fsync_interval: float = 1.0) -> None:
        self.directory = directory
        self.fsync_interval = fsync_interval
        self._name = f"{PREFIX}{boot_id()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._n = 0
        self._current: _Segment | None = None
        self._retired: list[_Segment] = []
        self._dirty = False
        self._syncer: asyncio.Task[None] | None = None
        self.appended = 0

    def open(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._current = self._new_segment()
        if self.fsync_interval > 0:
            self._syncer = asyncio.create_task(self._sync_loop(), name="settlement-journal-fsync")

    def _new_segment(self) -> _Segment:
        self._n += 1
        path = self.directory / f"{self._name}-{self._n}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return _Segment(path, fd)

    def append(self, record: UsageRecordCreate, spec: LedgerTransactionSpec | None) -> object:
        """Write one settlement (one `write`, no fsync); returns the token to pass to `done`."""
        segment = self._current
        if segment is None:
            raise RuntimeError("the settlement journal is not open")
        line = encode(record, spec)
        os.write(segment.fd, line)
        segment.pending += 1
        segment.size += len(line)
        self._dirty = True
        self.appended += 1
        if segment.size >= SEGMENT_BYTES:
            self._retired.append(segment)
            self._current = self._new_segment()
        return segment

    def done(self, token: object) -> None:
        """The settlement written with `token` is committed (or refused for good)."""
        assert isinstance(token, _Segment)
        token.pending -= 1
        if token.pending == 0 and token is not self._current:
            self._drop(token)

    def _drop(self, segment: _Segment) -> None:
        with contextlib.suppress(ValueError):
            self._retired.remove(segment)
        with contextlib.suppress(OSError):
            segment.path.unlink()
        os.close(segment.fd)

    def compact(self) -> None:
        """Empty the current file when all its lines are committed (no await: no write between
        the check and the truncation)."""
        segment = self._current
        if segment is not None and segment.pending == 0 and segment.size:
            os.ftruncate(segment.fd, 0)
            segment.size = 0

    async def sync(self) -> None:
        """fsync what was written since the last sync (in a thread: it may block), then compact."""
        segment = self._current
        if self._dirty and segment is not None:
            self._dirty = False
            fds = [s.fd for s in (*self._retired, segment)]
            await asyncio.to_thread(_fsync_all, fds)
        self.compact()

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.fsync_interval)
            try:
                await self.sync()
            except OSError:
                log.exception("settlement journal fsync failed")

    async def close(self) -> None:
        """Stop the timer; delete the files whose lines are all committed (the others stay, to be
        replayed at the next start)."""
        if self._syncer is not None:
            self._syncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._syncer
            self._syncer = None
        for segment in [*self._retired, *([self._current] if self._current else [])]:
            if segment.pending == 0:
                self._drop(segment)
            else:
                log.error(
                    "%d settlements in %s are not committed; the next start replays them",
                    segment.pending,
                    segment.path,
                )
                os.fsync(segment.fd)
                os.close(segment.fd)
        self._current = None
        self._retired = []


def _fsync_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):  # a segment deleted and closed meanwhile
            os.fsync(fd)


def orphans(directory: Path) -> Iterator[tuple[Path, int]]:
    """Journal files no live process holds, each with its descriptor, locked by the caller now
    (close it to unlock). A file another process holds is passed over."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"{PREFIX}*.jsonl")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        yield path, fd


def read_lines(fd: int) -> tuple[list[tuple[UsageRecordCreate, LedgerTransactionSpec | None]], int]:
    """The settlements of an open journal file, and how many lines were not readable (a line
    torn by a power loss is the last one; it was never acknowledged as written)."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    entries = []
    bad = 0
    for line in b"".join(chunks).splitlines():
        if not line.strip():
            continue
        try:
            entries.append(decode(line))
        except (ValueError, TypeError, KeyError):
            bad += 1
    return entries, bad
