"""Two teams with usage, and a lead of one of them: what the lead-scoped report tests share.

`lead-team` (the lead's) has a member alice who used claude-sonnet-4-5 from Claude Code;
`other-team` has bob, who used gpt-5 from Codex CLI and from Gemini CLI at a cost that appears
nowhere else. The records are two and one days old and rolled up, so any report over the last
days counts them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import make_group, make_user

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.kit.money import parse_amount
from spectra.runtime import Runtime
from spectra.usage import rollups
from spectra.usage import service as usage_service
from spectra.users import service as users_service

from .factories import usage_record

ALICE_COST = 1_230_000
BOB_COST = 7_777_777
"""Bob's cost per record: a figure that must never show in the lead's answers."""
OWN_GROUP = "lead-team"
OTHER_GROUP = "other-team"


@dataclass
class Teams:
    lead: Any
    mine: Any
    other: Any
    alice: Any
    bob: Any
    lead_token: str
    since: datetime
    until: datetime

    @property
    def lead_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.lead_token}"}

    @property
    def range_params(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}

    def own_total(self) -> int:
        return 3 * ALICE_COST

    def forbidden_strings(self) -> list[str]:
        """What must not appear in anything the lead reads: bob, his group, his spend."""
        return [
            self.bob.email,
            str(self.bob.id),
            OTHER_GROUP,
            str(self.other.id),
            str(BOB_COST),
            "7.777777",
            "gpt-5",
            "codex_cli",
        ]


async def seed_teams(runtime: Runtime, lead: Any | None = None) -> Teams:
    """The two teams, their records rolled up; `lead` (a new member when None) leads one."""
    now = datetime.now(UTC)
    today = rollups.day_of(now)
    async with session_scope(runtime.db) as session:
        mine = await make_group(session, name=OWN_GROUP)
        other = await make_group(session, name=OTHER_GROUP)
        if lead is None:
            lead = await make_user(session, email="lead@example.com", group_id=mine.id)
        else:
            await users_service.move_group(session, local_actor(), user=lead.id, group=mine.id)
        await users_service.set_lead(
            session,
            local_actor(),
            group=mine.id,
            user=lead.id,
            approval_limit_micros=parse_amount("50"),
        )
        alice = await make_user(session, email="alice@example.com", group_id=mine.id)
        bob = await make_user(session, email="bob@example.com", group_id=other.id)
        records = []
        for days, hour in ((2, 9), (2, 15), (1, 11)):
            at = today - timedelta(days=days, hours=-hour)
            records.append(
                usage_record(
                    created_at=at,
                    user_id=alice.id,
                    group_id=mine.id,
                    key_id=uuid.uuid4(),
                    cost_micros=ALICE_COST,
                )
            )
            records.append(
                usage_record(
                    created_at=at + timedelta(minutes=5),
                    user_id=bob.id,
                    group_id=other.id,
                    key_id=uuid.uuid4(),
                    model_requested="gpt-5",
                    model_served="gpt-5",
                    client_family="codex_cli" if hour != 15 else "gemini_cli",
                    cost_micros=BOB_COST,
                )
            )
        await usage_service.record_usage_batch(session, records)
        _, secret = await keys_service.create_token(session, local_actor(), user_id=lead.id)
    async with session_scope(runtime.db) as session:
        assert await rollups.roll_up(session, now=now) == len(records)
    return Teams(
        lead=lead,
        mine=mine,
        other=other,
        alice=alice,
        bob=bob,
        lead_token=secret,
        since=today - timedelta(days=7),
        until=today + timedelta(days=1),
    )
