"""Seed a workspace for the API fuzz: the demo workspace (owner, members, groups, pool accounts,
prices, packages, money), a member key, a code batch, and API tokens for the owner and a member.

Run as `python -m tests.fuzz.seed DATA_DIR`; prints the tokens as JSON on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from spectra.config import Settings
from spectra.db.session import session_scope
from spectra.demo.workspace import MEMBERS, actor, ensure_workspace
from spectra.keys import service as keys_service
from spectra.ledger import service as ledger_service
from spectra.runtime import build_runtime, close_runtime

OWNER_EMAIL = "owner@fuzz.test"
# Nothing listens here: pool probes fail fast, and the fuzz never reaches the gateway.
UPSTREAM = "http://127.0.0.1:9"


async def seed(data_dir: Path) -> dict[str, str]:
    runtime = await build_runtime(Settings(data_dir=data_dir))
    try:
        workspace = await ensure_workspace(
            runtime, upstream_url=UPSTREAM, owner_email=OWNER_EMAIL, password="fuzz-password-1"
        )
        member = MEMBERS[0]
        me = actor()
        async with session_scope(runtime.db) as session:
            _, owner_token = await keys_service.create_token(
                session, me, user_email=OWNER_EMAIL, name="fuzz owner"
            )
            _, member_token = await keys_service.create_token(
                session, me, user_id=workspace.users[member.handle], name="fuzz member"
            )
            await keys_service.create_key(
                session, me, user_id=workspace.users[member.handle], name="fuzz"
            )
            await ledger_service.create_codes(
                session, me, count=2, amount=5_000_000, memo="fuzz", idempotency_key="fuzz-codes"
            )
    finally:
        await close_runtime(runtime)
    return {"owner": owner_token, "member": member_token, "member_email": member.email}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(seed(Path(sys.argv[1])))) + "\n")
