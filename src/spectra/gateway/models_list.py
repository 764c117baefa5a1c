"""GET /v1/models: the models this caller may use, in OpenAI's shape or Anthropic's.

Candidates are what the pool serves now: each account that is not disabled or waiting for an
admin (`needs_attention`) and is open to the caller's group contributes its concrete model names
and aliases, and the priced models (genai-prices) its glob patterns match. Only chat-style
generation models are listed (`is_chat`): what genai-prices prices as audio, image or
input-only (embeddings) is left out, and so are names the price table cannot tell apart
(`NOT_CHAT`: TTS and transcription priced per token, search and deep-research variants, legacy
completions models, fine-tune and router ids), since the generation endpoints cannot serve them.
A model is listed when the caller's key scope, packages and group policy allow it (a refusal
only for lack of money still lists it).
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from typing import Any

from spectra.keys.cache import KeyEntry
from spectra.kit.clock import utc_now
from spectra.policy.decide import Decision, decide
from spectra.pool.states import AccountState
from spectra.usage.defaults import generation_kind, known_models

from .admission import policy_inputs
from .wiring import Gateway

MONEY_REASONS = frozenset({"package_allowance_exhausted", "wallet_empty"})
ACCESS_REASONS = frozenset(
    {"model_not_in_key_scope", "model_not_in_package", "no_funding_source", "user_suspended"}
)
_GLOB = set("*?[")
ON_DUTY = frozenset(set(AccountState) - {AccountState.DISABLED, AccountState.NEEDS_ATTENTION})
NOT_CHAT = re.compile(
    r"image|dall-e|realtime|tts|transcribe|whisper|embed|audio|moderation|sora|(?:^|-)live"
    r"|translate|computer-use|(?:^|-)search(?:-|$)|deep-research|(?:^|-)ocr(?:-|$)"
    r"|^ft:|\.ft-|:(?:extended|free|beta|online|nitro|floor|thinking)$"
    r"|^(?:ada|babbage|curie|davinci)(?:-|$)|text-davinci|gpt-3\.5-turbo-instruct"
)
"""Names of models the generation endpoints cannot serve whatever their price says. Open models'
own names stay listable: `qwen3-coder:30b` (an Ollama tag), `...-32b-instruct` (a chat model)."""


def is_chat(model: str) -> bool:
    """A chat-style generation model: genai-prices prices its output as text (or does not know
    it), and its name is not one of `NOT_CHAT`."""
    kind = generation_kind(model)
    return kind in (None, "text") and not NOT_CHAT.search(model)


async def decide_for(gw: Gateway, entry: KeyEntry, model: str) -> Decision:
    inputs = await policy_inputs(gw.policy, gw.view, entry, gw.workspace)
    return decide(inputs, model, now=utc_now())


def served_models(gw: Gateway, group_id: uuid.UUID | None = None) -> list[tuple[str, str]]:
    """(model, provider) of chat-style models an account serves now (to `group_id`), sorted."""
    priced = known_models()
    out: dict[str, str] = {}
    group = None if group_id is None else str(group_id)
    for runtime in gw.scheduler.state.accounts.values():
        config = runtime.config
        if runtime.snapshot.state not in ON_DUTY or not config.open_to(group):
            continue
        for alias in config.aliases:
            out.setdefault(alias, config.provider)
        for pattern in config.models:
            if not _GLOB & set(pattern):
                out.setdefault(pattern, config.provider)
                continue
            for _provider, model in priced:
                if fnmatch.fnmatchcase(model, pattern):
                    out.setdefault(model, config.provider)
    return sorted((m, p) for m, p in out.items() if is_chat(m))


async def usable_models(gw: Gateway, entry: KeyEntry) -> list[tuple[str, str]]:
    inputs = await policy_inputs(gw.policy, gw.view, entry, gw.workspace)
    now = utc_now()
    usable = []
    for model, provider in served_models(gw, entry.group_id):
        if gw.prices.price_for(model, now) is None:
            continue  # admission would refuse it: model_unpriced
        decision = decide(inputs, model, now=now)
        if decision.allowed or decision.reason_code in MONEY_REASONS:
            usable.append((model, provider))
    return usable


def render(models: list[tuple[str, str]], *, anthropic: bool) -> dict[str, Any]:
    if anthropic:
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "1970-01-01T00:00:00Z"}
            for m, _ in models
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 0, "owned_by": p} for m, p in models],
    }
