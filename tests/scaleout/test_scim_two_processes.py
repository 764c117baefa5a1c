"""Two real `spectra serve` processes: a SCIM deprovisioning through one makes the member's key
refused by the other (the change feed), polled with a generous deadline."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from tests.scim.conftest import SCIM, SCIM_JSON, make_owner_and_token
from tests.support.redis import REDIS_URL, require_redis

from .cluster import chat_body, cluster

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

DEADLINE_S = 10.0


async def test_scim_deactivation_through_one_process_is_refused_by_the_other(
    tmp_path: Path,
) -> None:
    require_redis()
    async with cluster(tmp_path, redis_url=REDIS_URL) as cl:
        await cl.world.recharge("5")
        token = await make_owner_and_token(cl.runtime)
        a, b = cl.start_server(), cl.start_server()
        await asyncio.gather(cl.wait_ready(a), cl.wait_ready(b))
        headers = {**cl.world.headers(), "content-type": "application/json"}
        async with httpx.AsyncClient(timeout=60) as http:
            body = json.dumps(chat_body()).encode()
            ok = await http.post(f"{b.url}/v1/chat/completions", content=body, headers=headers)
            assert ok.status_code == 200, ok.text
            patch = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": False}}],
            }
            done = await http.patch(
                f"{a.url}{SCIM}/Users/{cl.world.user_id}",
                json=patch,
                headers={"authorization": f"Bearer {token}", "content-type": SCIM_JSON},
            )
            assert done.status_code == 200, done.text
            started = time.monotonic()
            refused = None
            while time.monotonic() - started < DEADLINE_S:
                answer = await http.post(
                    f"{b.url}/v1/chat/completions", content=body, headers=headers
                )
                if answer.status_code != 200:
                    refused = answer
                    break
                await asyncio.sleep(0.05)
        assert refused is not None, "the other process still served the deprovisioned member"
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "user_suspended"
