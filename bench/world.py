"""Seed a scratch Spectra database for the benchmark, through the real services where it is
cheap (prices, pool accounts, recharge, the main key) and by bulk insert where it is not (the
10,000 "hot" keys: the same rows `keys.service.create_key` writes, minus the audit rows).

    python -m bench.world --out world.json     # with SPECTRA_DATA_DIR / SPECTRA_DATABASE_URL set

Writes a JSON file: the main member key, the broke member's key (balance 0: the refusal path),
the file of hot keys, and the model names. Secrets are written to the scratch directory only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from pathlib import Path

from spectra.audit.actor import local_actor
from spectra.config import reset_settings
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.keys.models import MemberKey
from spectra.keys.secrets import display_prefix, hash_secret, new_member_key
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.pool import service as pool_service
from spectra.pool.schemas import AccountCreate
from spectra.runtime import build_runtime, close_runtime
from spectra.usage import service as usage_service
from spectra.users.models import Group, User

OPENAI_MODEL = "bench-gpt"
ANTHROPIC_MODEL = "bench-claude"
COMPAT_MODEL = "bench-compat"
BEDROCK_MODEL = "bench-bedrock"
"""Served by a `bedrock` account only (on the same fake): every request SigV4-signed."""
BEDROCK_KEYS = "AKIABENCHBENCHBENCH1:" + "b" * 40
"""Served only by an OpenAI-compatible (Chat Completions) account: `/v1/messages` for it is
translated to Chat, as `/v1/chat/completions` for ANTHROPIC_MODEL is translated to Messages."""
UPSTREAM_KEY = "sk-bench-upstream"


async def seed(upstream: str, out: Path, hot_keys: int, hot_members: int) -> None:
    settings = reset_settings()
    runtime = await build_runtime(settings, migrate_schema=True)
    owner = local_actor()
    try:
        async with session_scope(runtime.db) as session:
            team = Group(name="bench", name_key="bench")
            broke_team = Group(name="bench-broke", name_key="bench-broke")
            session.add_all([team, broke_team])
            await session.flush()
            member = User(
                email="member@bench.local",
                name="Bench",
                role="member",
                status="active",
                group_id=team.id,
            )
            broke = User(
                email="broke@bench.local",
                name="Broke",
                role="member",
                status="active",
                group_id=broke_team.id,
            )
            hot = [
                User(
                    email=f"hot{i}@bench.local",
                    name=f"Hot {i}",
                    role="member",
                    status="active",
                    group_id=team.id,
                )
                for i in range(hot_members)
            ]
            session.add_all([member, broke, *hot])
            await session.flush()
            for model in (OPENAI_MODEL, ANTHROPIC_MODEL, COMPAT_MODEL, BEDROCK_MODEL):
                await usage_service.set_price(
                    session,
                    owner,
                    model=model,
                    input="3",
                    output="15",
                    cache_read="0.3",
                    cache_write="3.75",
                )
            for provider, model in (
                ("openai", OPENAI_MODEL),
                ("anthropic", ANTHROPIC_MODEL),
                ("openai_compatible", COMPAT_MODEL),
            ):
                await pool_service.add_account(
                    session,
                    owner,
                    data=AccountCreate.model_validate(
                        {
                            "name": f"bench-{provider}",
                            "provider": provider,
                            "base_url": upstream,
                            "api_key": UPSTREAM_KEY,
                            "models": [model],
                        }
                    ),
                )
            await pool_service.add_account(
                session,
                owner,
                data=AccountCreate.model_validate(
                    {
                        "name": "bench-bedrock",
                        "provider": "bedrock",
                        "base_url": upstream,
                        "api_key": BEDROCK_KEYS,
                        "region": "us-east-1",
                        "models": [BEDROCK_MODEL],
                    }
                ),
            )
            await ledger_service.recharge(
                session,
                owner,
                group_id=team.id,
                amount=parse_amount("100000"),
                memo="bench",
                idempotency_key=f"bench:{uuid.uuid4()}",
            )
            _key, main_secret = await keys_service.create_key(
                session, owner, user_id=member.id, name="bench"
            )
            _key, broke_secret = await keys_service.create_key(
                session, owner, user_id=broke.id, name="bench"
            )
            secrets: list[str] = []
            rows: list[MemberKey] = []
            for i in range(hot_keys):
                secret = new_member_key()
                secrets.append(secret)
                rows.append(
                    MemberKey(
                        user_id=hot[i % len(hot)].id,
                        name=f"hot-{i}",
                        prefix=display_prefix(secret),
                        hash=hash_secret(secret),
                        scopes=[],
                        ip_allowlist=[],
                        status="active",
                    )
                )
            session.add_all(rows)
        _write(out, main_secret, broke_secret, secrets)
    finally:
        await close_runtime(runtime)


def _write(out: Path, main_secret: str, broke_secret: str, secrets: list[str]) -> None:
    hot_file = out.with_suffix(".keys")
    hot_file.write_text("\n".join(secrets) + "\n")
    world = {
        "key": main_secret,
        "broke_key": broke_secret,
        "hot_keys_file": str(hot_file),
        "hot_keys": len(secrets),
        "openai_model": OPENAI_MODEL,
        "anthropic_model": ANTHROPIC_MODEL,
    }
    out.write_text(json.dumps(world))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hot-keys", type=int, default=10_000)
    parser.add_argument("--hot-members", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(seed(args.upstream, args.out, args.hot_keys, args.hot_members))


if __name__ == "__main__":
    main()
