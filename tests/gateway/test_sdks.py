"""The official `openai` and `anthropic` Python SDKs against Spectra on a real local port:
chat, responses, messages, count_tokens, models; streamed and not; each charged exactly."""

from __future__ import annotations

import anthropic
import openai
from tests.fakes.upstream import FakeUpstream, Reply

from .world import OPENAI_MODEL, World, expected_cost, serve

ANTHROPIC_MODEL = "claude-opus-4-8"  # the SDK warns about deprecated names


async def test_openai_sdk(app: object, pooled: World, fake: FakeUpstream) -> None:
    fake.default = Reply(text="sdk says hi", input_tokens=11, output_tokens=5)
    async with serve(app) as base:
        client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=pooled.secret, max_retries=0)
        try:
            chat = await client.chat.completions.create(
                model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}]
            )
            assert chat.choices[0].message.content == "sdk says hi"
            stream = await client.chat.completions.create(
                model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            assert text == "sdk says hi"
            response = await client.responses.create(model=OPENAI_MODEL, input="hi")
            assert response.output_text == "sdk says hi"
            events = [
                e.type
                async for e in await client.responses.create(
                    model=OPENAI_MODEL, input="hi", stream=True
                )
            ]
            assert events[-1] == "response.completed"
            models = [m.id async for m in client.models.list()]
            assert OPENAI_MODEL in models
        finally:
            await client.close()
    await pooled.settle()
    records = await pooled.records()
    assert len(records) == 4
    assert all(r.cost_micros == expected_cost(11, 5) for r in records)
    wallet = await pooled.balance(await pooled.wallet_id())
    assert wallet == 10_000_000 - 4 * expected_cost(11, 5)


async def test_anthropic_sdk(app: object, pooled: World, fake: FakeUpstream) -> None:
    fake.default = Reply(text="claude here", input_tokens=21, output_tokens=6, cache_read_tokens=4)
    async with serve(app) as base:
        client = anthropic.AsyncAnthropic(base_url=base, auth_token=pooled.secret, max_retries=0)
        try:
            message = await client.messages.create(
                model=ANTHROPIC_MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
            )
            assert message.content[0].text == "claude here"  # type: ignore[union-attr]
            async with client.messages.stream(
                model=ANTHROPIC_MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                final = await stream.get_final_message()
            assert final.usage.output_tokens == 6
            beta = await client.beta.messages.create(
                model=ANTHROPIC_MODEL,
                max_tokens=64,
                # A priced beta passes (context-1m would not: this model is priced flat).
                betas=["interleaved-thinking-2025-05-14"],
                messages=[{"role": "user", "content": "hi"}],
            )
            assert beta.content[0].text == "claude here"  # type: ignore[union-attr]
            counted = await client.messages.count_tokens(
                model=ANTHROPIC_MODEL, messages=[{"role": "user", "content": "hi"}]
            )
            assert counted.input_tokens > 0
            page = await client.models.list()
            assert ANTHROPIC_MODEL in [m.id for m in page.data]
        finally:
            await client.close()
    assert fake.requests[2].header("anthropic-beta") == "interleaved-thinking-2025-05-14"
    await pooled.settle()
    records = await pooled.records()
    assert len(records) == 3
    assert all(r.cost_micros == expected_cost(21, 6, 4) for r in records)
