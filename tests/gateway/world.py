"""A small workspace for gateway tests: a member with a key, pool accounts on the fake upstream,
prices, a wallet and packages, built through the real services and visible to the caches."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import uvicorn
from sqlalchemy import select
from tests.factories import make_group, make_user

from spectra.audit.actor import Actor, local_actor
from spectra.db.session import read_scope, session_scope
from spectra.gateway import wiring as gateway_wiring
from spectra.keys import service as keys_service
from spectra.ledger import service as ledger_service
from spectra.ledger.models import LedgerAccount
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate
from spectra.pool import service as pool_service
from spectra.pool.schemas import AccountCreate
from spectra.runtime import Runtime
from spectra.usage import service as usage_service
from spectra.usage.models import UsageRecord

OWNER: Actor = local_actor()
UPSTREAM_KEY = "sk-fake-upstream-gw"
UNIT = 1_000_000
# Per million tokens: input 3, output 15, cache read 0.3, cache write 3.75 (units).
PRICES = {"input": "3", "output": "15", "cache_read": "0.3", "cache_write": "3.75"}
ANTHROPIC_MODEL = "claude-sonnet-4-5"
OPENAI_MODEL = "gpt-5"
CLAUDE_CODE_MODEL = "claude-opus-5-5"
"""The model the pinned Claude Code (scripts/install-clients.sh) asks for when given none."""


def expected_cost(
    input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
) -> int:
    """The exact cost in micros at PRICES (tokens x price per million; micros = units x 1e6)."""
    total = (
        input_tokens * Decimal(PRICES["input"])
        + output_tokens * Decimal(PRICES["output"])
        + cache_read * Decimal(PRICES["cache_read"])
        + cache_write * Decimal(PRICES["cache_write"])
    )
    from spectra.kit.money import round_micros

    return int(round_micros(total))


@dataclass
class World:
    runtime: Runtime
    user_id: uuid.UUID
    email: str
    group_id: uuid.UUID
    key_id: uuid.UUID
    secret: str
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)

    async def flush(self) -> None:
        """Wait until every settlement is committed and applied to the balance view."""
        gw = gateway_wiring.current()
        assert gw is not None
        await gw.settler.flush()
        await self.runtime.committer.flush()
        await gw.settler.flush()

    async def settle(self) -> None:
        """`flush`, then let the caches catch up with the change feed."""
        await self.flush()
        await self.runtime.feed.poll_once()

    async def sync(self) -> None:
        await self.runtime.feed.poll_once()

    async def add_account(
        self, name: str, *, provider: str, base_url: str, models: list[str], **extra: Any
    ) -> uuid.UUID:
        async with session_scope(self.runtime.db) as session:
            account = await pool_service.add_account(
                session,
                OWNER,
                data=AccountCreate.model_validate(
                    {
                        "name": name,
                        "provider": provider,
                        "base_url": base_url,
                        "api_key": UPSTREAM_KEY,
                        "models": models,
                        **extra,
                    }
                ),
            )
        self.accounts[name] = account.id
        await self.sync()
        return account.id

    async def recharge(self, amount: str, *, group: bool = False) -> None:
        from spectra.kit.money import parse_amount

        async with session_scope(self.runtime.db) as session:
            await ledger_service.recharge(
                session,
                OWNER,
                user_id=None if group else self.user_id,
                group_id=self.group_id if group else None,
                amount=parse_amount(amount),
                memo="test",
                idempotency_key=f"test-recharge:{uuid.uuid4()}",
            )
        await self.sync()

    async def give_package(
        self, name: str, *, allowance: str, patterns: list[str], **terms: Any
    ) -> uuid.UUID:
        async with session_scope(self.runtime.db) as session:
            await packages_service.create_package(
                session,
                OWNER,
                data=PackageCreate.model_validate(
                    {
                        "name": name,
                        "allowance": allowance,
                        "period": "monthly",
                        "model_patterns": patterns,
                        **terms,
                    }
                ),
            )
            detail = await packages_service.assign_package(
                session, OWNER, package=name, user_id=self.user_id
            )
        await self.sync()
        return detail.assignment.allowance_account_id

    async def balance(self, account_id: uuid.UUID) -> int:
        async with read_scope(self.runtime.db) as session:
            return await ledger_service.balance(session, account_id)

    async def wallet_id(self, *, group: bool = False) -> uuid.UUID:
        async with read_scope(self.runtime.db) as session:
            kind = "group_wallet" if group else "user_wallet"
            owner = self.group_id if group else self.user_id
            return (
                await session.execute(
                    select(LedgerAccount.id).where(
                        LedgerAccount.kind == kind, LedgerAccount.owner_id == owner
                    )
                )
            ).scalar_one()

    async def records(self) -> list[UsageRecord]:
        async with read_scope(self.runtime.db) as session:
            rows = await session.execute(select(UsageRecord).order_by(UsageRecord.created_at))
            return list(rows.scalars().all())

    def headers(self, *, anthropic: bool = False) -> dict[str, str]:
        if anthropic:
            return {"x-api-key": self.secret, "anthropic-version": "2023-06-01"}
        return {"authorization": f"Bearer {self.secret}"}


async def build_world(runtime: Runtime, *, scopes: list[str] | None = None) -> World:
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name=f"team-{uuid.uuid4().hex[:6]}")
        user = await make_user(session, group=group)
        key, secret = await keys_service.create_key(
            session, OWNER, user_id=user.id, name="test", scopes=scopes or []
        )
        for model in (
            ANTHROPIC_MODEL,
            "claude-opus-4-8",
            CLAUDE_CODE_MODEL,
            OPENAI_MODEL,
            "gpt-5-codex",
        ):
            await usage_service.set_price(
                session,
                OWNER,
                model=model,
                input=PRICES["input"],
                output=PRICES["output"],
                cache_read=PRICES["cache_read"],
                cache_write=PRICES["cache_write"],
            )
        ids = (user.id, user.email, group.id, key.id)
    await runtime.feed.poll_once()
    return World(runtime, ids[0], ids[1], ids[2], ids[3], secret)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a real local port (in this event loop)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
