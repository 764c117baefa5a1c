from __future__ import annotations

from collections.abc import Callable

import httpx

from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.usage import service as usage_service
from spectra.usage.table import price_table

from .factories import make_user, usage_record

ADMIN = Actor(kind=ActorKind.USER, label="admin@example.com", role="admin")


class TestPricesApi:
    async def test_put_sets_a_price_and_the_table_follows(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None], runtime: Runtime
    ) -> None:
        act_as(ADMIN)
        response = await client.put(
            "/api/prices", json={"model": "my-llama", "input": "0.50", "output": "1.50"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["input"] == "0.50"
        assert body["cache_read"] == "0.50"
        await runtime.feed.poll_once()
        from spectra.kit.clock import utc_now

        assert price_table.price_for("my-llama", utc_now()) is not None
        listed = (await client.get("/api/prices")).json()
        assert [p["model"] for p in listed["items"]] == ["my-llama"]

    async def test_more_than_six_decimals_is_a_422(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        response = await client.post(
            "/api/prices", json={"model": "m", "input": "0.0000001", "output": "1"}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_amount"

    async def test_unknown_model_price_is_a_404(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        response = await client.get("/api/prices/no-such-model")
        assert response.status_code == 404
        assert "spectra prices set no-such-model" in response.json()["error"]["message"]


class TestUsageApi:
    async def test_lists_with_money_as_strings_and_micros(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None], runtime: Runtime
    ) -> None:
        async with session_scope(runtime.db) as session:
            user = await make_user(session)
            await usage_service.record_usage_batch(
                session, [usage_record(user_id=user.id, cost_micros=1_234_500)]
            )
        act_as(ADMIN)
        response = await client.get("/api/usage", params={"user": user.email})
        assert response.status_code == 200, response.text
        item = response.json()["items"][0]
        assert item["cost"] == "1.2345"
        assert item["cost_micros"] == 1_234_500
        assert item["user_email"] == user.email
        assert item["funding"][0]["amount"] == "1.2345"
        assert "body" not in " ".join(item)

    async def test_bad_client_filter_is_a_422(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        response = await client.get("/api/usage", params={"client": "emacs"})
        assert response.status_code == 422
