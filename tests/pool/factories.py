"""Pool builders: `await make_account(session, admin, base_url=fake.url)`."""

from __future__ import annotations

import uuid
from typing import Any

from spectra.audit.actor import Actor
from spectra.pool import service as pool_service
from spectra.pool.models import PoolAccount
from spectra.pool.schemas import AccountCreate

from .conftest import FAKE_KEY


async def make_account(session: Any, actor: Actor, **overrides: Any) -> PoolAccount:
    values: dict[str, Any] = {
        "name": f"acct-{uuid.uuid4().hex[:6]}",
        "provider": "anthropic",
        "base_url": "http://127.0.0.1:9",
        "api_key": FAKE_KEY,
        "models": ["claude-*"],
    }
    values.update(overrides)
    return await pool_service.add_account(session, actor, data=AccountCreate.model_validate(values))
