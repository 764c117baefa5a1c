"""Database leases: one process serves a database (unless shared state lives in Redis; then
each serving process holds its own `serve:<holder>` row), and one process at a time runs each
background job.

A lease is a row (name, holder, expires_at). Taking it is one conditional UPDATE (or an
INSERT for a new name) in its own short transaction; renewing moves `expires_at`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from spectra.db.models import Lease
from spectra.db.session import Database, session_scope
from spectra.kit.clock import utc_now

log = logging.getLogger(__name__)

SERVE_LEASE = "serve"
SERVE_INFO_PREFIX = "spectra serve at "


def process_holder() -> str:
    """A holder name for this process: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_is_dead_local_process(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def try_acquire(
    db: Database, name: str, holder: str, ttl: float, *, info: str = ""
) -> Lease | None:
    """Take or renew lease `name` for `holder`. Returns the current holder's row if another holds it."""
    now = utc_now()
    expires = now + timedelta(seconds=ttl)
    async with session_scope(db) as session:
        result = await session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=expires, info=info, acquired_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return None
        current = (
            await session.execute(select(Lease).where(Lease.name == name))
        ).scalar_one_or_none()
        if current is None:
            try:
                async with session.begin_nested():
                    session.add(
                        Lease(
                            name=name, holder=holder, expires_at=expires, info=info, acquired_at=now
                        )
                    )
                return None
            except IntegrityError:
                current = (
                    await session.execute(select(Lease).where(Lease.name == name))
                ).scalar_one()
        if _holder_is_dead_local_process(current.holder):
            await session.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == current.holder)
                .values(holder=holder, expires_at=expires, info=info, acquired_at=now)
                .execution_options(synchronize_session=False)
            )
            return None
        session.expunge(current)
        return current


async def live_holders(
    db: Database, name: str, *, prefix: bool = False, exclude: str | None = None
) -> list[str]:
    """Holders of the unexpired lease `name` (or every lease starting with it), but `exclude`."""
    match = Lease.name.startswith(name, autoescape=True) if prefix else Lease.name == name
    async with session_scope(db) as session:
        rows = (
            await session.execute(select(Lease.holder).where(match, Lease.expires_at >= utc_now()))
        ).scalars()
        return [h for h in rows if h != exclude and not _holder_is_dead_local_process(h)]


async def live_infos(db: Database, name: str, *, prefix: bool = False) -> list[str]:
    """The `info` of each unexpired lease `name` (or every lease starting with it) whose holder
    is alive."""
    match = Lease.name.startswith(name, autoescape=True) if prefix else Lease.name == name
    async with session_scope(db) as session:
        rows = (
            await session.execute(
                select(Lease.holder, Lease.info).where(match, Lease.expires_at >= utc_now())
            )
        ).all()
    return [info or "" for holder, info in rows if not _holder_is_dead_local_process(holder)]


async def release(db: Database, name: str, holder: str) -> None:
    async with session_scope(db) as session:
        await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


@dataclass
class Job:
    name: str
    interval: float
    run: Callable[[], Awaitable[None]]
    next_at: float = 0.0


@dataclass
class JobScheduler:
    """Runs registered jobs; a lease per job makes one process run each at a time."""

    db: Database
    holder: str = field(default_factory=process_holder)
    jobs: list[Job] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def register(self, name: str, interval: float, run: Callable[[], Awaitable[None]]) -> None:
        self.jobs.append(Job(name=name, interval=interval, run=run))

    async def run_due(self, now: float | None = None) -> list[str]:
        """Run each due job whose lease this process wins; returns the names run."""
        loop_now = asyncio.get_running_loop().time() if now is None else now
        ran: list[str] = []
        for job in self.jobs:
            if job.next_at > loop_now:
                continue
            job.next_at = loop_now + job.interval
            lease = f"job:{job.name}"
            if (
                await try_acquire(self.db, lease, self.holder, ttl=max(job.interval * 2, 30))
                is not None
            ):
                continue
            try:
                await job.run()
                self.runs[job.name] = self.runs.get(job.name, 0) + 1
                ran.append(job.name)
            except Exception:
                log.exception("job %s failed", job.name)
        return ran

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job scheduler pass failed")
            await asyncio.sleep(1.0)


def lease_expired(lease: Lease, now: datetime | None = None) -> bool:
    return lease.expires_at < (now or utc_now())
