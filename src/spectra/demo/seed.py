"""Seed the demo: the workspace, then thirty days of history replayed through the gateway, then
rollups. Idempotent: the workspace is found by name, the history by request id, and the month's
admin moments (a code batch, a four-eyes recharge, a member's request) by their own keys.

History needs the clock in the past: the seeding sets `spectra.kit.clock` to each moment it
replays and gives the clock back afterwards. Run it before serving, never beside live traffic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spectra.app import create_app
from spectra.audit.actor import Actor, user_actor
from spectra.db.session import read_scope, session_scope
from spectra.keys import service as keys_service
from spectra.kit import clock
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.packages.jobs import run_renewals
from spectra.runtime import Runtime
from spectra.usage import service as usage_service
from spectra.usage.jobs import run_rollups
from spectra.users import service as users_service
from spectra.users.errors import GroupNotFoundError
from spectra.workspace import service as workspace_service

from . import guardrails
from .history import Milestone, ProgressFn, Turn, plan, replay, request_prefix
from .workspace import (
    DEFAULT_PASSWORD,
    MEMBERS,
    DemoWorkspace,
    actor,
    check_demo_database,
    ensure_workspace,
)

DAYS = 30
KEY_NAME = "laptop"
QUICKSTART_KEY = "quickstart (spectra demo)"
QUICKSTART_MEMBER = "priya"


@dataclass
class SeedReport:
    owner_email: str
    password: str
    start: datetime
    fresh: bool
    planned: int
    sent: int
    quickstart_email: str = ""
    quickstart_secret: str = field(default="", repr=False)
    codes: list[str] = field(default_factory=list, repr=False)
    """Redemption codes issued by this run (shown once; empty on a second run)."""


class _Lent:
    """The clock lent to the replay: `now` is when the seeding began; `give_back()` restores it."""

    def __init__(self) -> None:
        self.was_frozen = clock.is_frozen()
        self.now = clock.utc_now()

    def give_back(self) -> None:
        if self.was_frozen:
            clock.freeze(self.now)
        else:
            clock.unfreeze()


@contextlib.contextmanager
def replaying_clock() -> Iterator[_Lent]:
    """Lend the clock to the replay, and restore it (frozen or not) whatever happens."""
    lent = _Lent()
    try:
        yield lent
    finally:
        lent.give_back()


async def seed(
    runtime: Runtime,
    *,
    upstream_url: str,
    owner_email: str = "owner@spectra.local",
    password: str = DEFAULT_PASSWORD,
    days: int = DAYS,
    volume: float = 1.0,
    progress: ProgressFn | None = None,
) -> SeedReport:
    """Build the demo workspace and its history on `runtime`'s database (started, not serving)."""
    await check_demo_database(runtime, owner_email=owner_email)
    with replaying_clock() as lent:
        now = lent.now
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = await _existing_start(runtime)
        fresh = start is None
        if start is None:
            start = today - timedelta(days=days)
            clock.freeze(start + timedelta(hours=8))
        _step(progress, "Creating the workspace", 0, 1)
        workspace = await ensure_workspace(
            runtime, upstream_url=upstream_url, owner_email=owner_email, password=password
        )
        await _four_eyes(runtime)
        await _guardrails(runtime)
        _step(progress, "Creating the workspace", 1, 1)
        turns = [t for t in plan(start, days=days, volume=volume) if t.at < now]
        todo = await _not_yet_sent(runtime, turns, start)
        keys = _Keys(runtime, workspace)
        codes: list[str] = []
        sent = await replay(
            runtime,
            create_app(runtime),
            todo,
            secrets=keys.secret,
            milestones=_milestones(runtime, workspace, start, days, codes) if todo else (),
            every_day=lambda: _renewals(runtime),
            progress=progress,
        )
        lent.give_back()
        await _rollout(runtime)  # a database seeded before the rollout existed gets it now
        await run_renewals(runtime.db)
        _step(progress, "Rolling usage up", 0, 1)
        await run_rollups(runtime.db, lag=timedelta(0))
        _step(progress, "Rolling usage up", 1, 1)
        _step(progress, "Checking budgets for alerts", 0, 1)
        await guardrails.size_budgets(runtime)
        await guardrails.detect_once(runtime)
        _step(progress, "Checking budgets for alerts", 1, 1)
        secret = await _quickstart_key(runtime, workspace)
    return SeedReport(
        owner_email=owner_email,
        password=password,
        start=start,
        fresh=fresh,
        planned=len(turns),
        sent=sent,
        quickstart_email=next(m.email for m in MEMBERS if m.handle == QUICKSTART_MEMBER),
        quickstart_secret=secret,
        codes=codes,
    )


def _step(progress: ProgressFn | None, what: str, done: int, total: int) -> None:
    if progress is not None:
        progress(what, done, total)


async def _existing_start(runtime: Runtime) -> datetime | None:
    """The first day of an earlier run's history: the day the demo created group Platform."""
    async with read_scope(runtime.db) as session:
        try:
            group = await users_service.get_group(session, actor(), group="Platform")
        except GroupNotFoundError:
            return None
    return group.created_at.replace(hour=0, minute=0, second=0, microsecond=0)


async def _not_yet_sent(runtime: Runtime, turns: list[Turn], start: datetime) -> list[Turn]:
    prefix = request_prefix(start)
    seen: set[str] = set()
    async with read_scope(runtime.db) as session:
        cursor: str | None = None
        while True:
            page = await usage_service.list_usage(
                session, actor(), since=start, limit=500, cursor=cursor
            )
            seen.update(r.request_id for r in page.items if r.request_id.startswith(prefix))
            cursor = page.next_cursor
            if cursor is None:
                break
    return [t for t in turns if t.request_id not in seen]


async def _four_eyes(runtime: Runtime) -> None:
    """Recharges above $400 need a second admin (scenario 4)."""
    async with session_scope(runtime.db) as session:
        current = await workspace_service.get_settings(session)
        if current.four_eyes_threshold_micros is None:
            await workspace_service.set_setting(
                session, actor(), name="four_eyes_threshold", value="400"
            )
    await runtime.feed.poll_once()


async def _guardrails(runtime: Runtime) -> None:
    """The project (before the history, so its keys' requests carry it) and the alert rules."""
    async with session_scope(runtime.db) as session:
        await guardrails.ensure_project(session)
        await guardrails.ensure_rules(session)
    await runtime.feed.poll_once()


async def _rollout(runtime: Runtime) -> None:
    async with session_scope(runtime.db) as session:
        await guardrails.ensure_rollout(session)
    await runtime.feed.poll_once()


async def _renewals(runtime: Runtime) -> None:
    await run_renewals(runtime.db)


class _Keys:
    """Each member's `laptop` key: created on the first run (secret kept in memory for the
    replay), rotated on a later run that still has traffic to send."""

    def __init__(self, runtime: Runtime, workspace: DemoWorkspace) -> None:
        self.runtime = runtime
        self.workspace = workspace
        self.secrets: dict[str, str] = {}

    async def secret(self, handle: str) -> str:
        if handle in self.secrets:
            return self.secrets[handle]
        user_id = self.workspace.users[handle]
        async with session_scope(self.runtime.db) as session:
            page = await keys_service.list_keys(
                session, actor(), user_id=user_id, status="active", limit=50
            )
            existing = next((k for k in page.items if k.name == KEY_NAME), None)
            if existing is None:
                key, secret = await keys_service.create_key(
                    session, actor(), user_id=user_id, name=KEY_NAME
                )
            else:
                key, secret = await keys_service.rotate_key(
                    session, actor(), key_id=existing.id, grace=timedelta(0)
                )
            await guardrails.attribute_key(session, handle, key.id)
        await self.runtime.feed.poll_once()
        self.secrets[handle] = secret
        return secret


async def _quickstart_key(runtime: Runtime, workspace: DemoWorkspace) -> str:
    """A fresh key for the member the sign-in notes name; an older quickstart key is revoked."""
    user_id = workspace.users[QUICKSTART_MEMBER]
    async with session_scope(runtime.db) as session:
        page = await keys_service.list_keys(
            session, actor(), user_id=user_id, status="active", limit=50
        )
        for key in page.items:
            if key.name == QUICKSTART_KEY:
                await keys_service.revoke_key(
                    session, actor(), key_id=key.id, reason="replaced by a new spectra demo run"
                )
        _, secret = await keys_service.create_key(
            session, actor(), user_id=user_id, name=QUICKSTART_KEY
        )
    await runtime.feed.poll_once()
    return secret


def _milestones(
    runtime: Runtime, workspace: DemoWorkspace, start: datetime, days: int, codes: list[str]
) -> list[Milestone]:
    """The month's admin and member moments (each idempotent)."""

    async def code_batch() -> None:
        async with session_scope(runtime.db) as session:
            if (await ledger_service.list_batches(session, actor(), limit=1)).items:
                return
            batch = await ledger_service.create_codes(
                session,
                actor(),
                count=5,
                amount=parse_amount("10"),
                memo="Hack day welcome codes",
            )
        codes.extend(batch.codes)
        lena = _member_actor(workspace, "lena")
        async with session_scope(runtime.db) as session:
            await ledger_service.redeem_code(session, lena, code=codes.pop(0))

    async def four_eyes_recharge() -> None:
        async with session_scope(runtime.db) as session:
            await ledger_service.recharge(
                session,
                _member_actor(workspace, "sam"),
                group_id=workspace.groups["Platform"],
                amount=parse_amount("500"),
                memo="Runway to the end of the quarter",
                idempotency_key="demo:recharge:platform-topup",
            )

    async def member_request() -> None:
        tom = _member_actor(workspace, "tom")
        async with session_scope(runtime.db) as session:
            mine = await ledger_service.list_recharge_requests(session, tom, mine=True, limit=1)
            if mine.items:
                return
            await ledger_service.create_recharge_request(
                session,
                tom,
                amount=parse_amount("15"),
                reason="Release week: I need Opus for the crash triage",
            )

    def at(day: int, hour: int) -> datetime:
        return start + timedelta(days=min(day, days - 1), hours=hour)

    async def rollout() -> None:
        await _rollout(runtime)

    return [
        Milestone(at(2, 9), "code batch", code_batch),
        Milestone(at(max(days - 6, 0), 10), "Opus rollout pilot on autopilot", rollout),
        Milestone(at(days - 3, 15), "four-eyes recharge", four_eyes_recharge),
        Milestone(at(days - 2, 11), "member recharge request", member_request),
    ]


def _member_actor(workspace: DemoWorkspace, handle: str) -> Actor:
    member = next(m for m in MEMBERS if m.handle == handle)
    return user_actor(
        user_id=workspace.users[handle], email=member.email, role=member.role, via="console"
    )
