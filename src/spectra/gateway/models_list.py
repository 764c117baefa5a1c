"""GET /v1/models: the models this caller may use, in OpenAI's shape or Anthropic's.

Candidates are what the pool serves: each account's concrete model names and aliases, and the
priced models (genai-prices) its glob patterns match. A model is listed when the caller's
key scope and packages or wallets allow it (a refusal only for lack of money still lists it).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from spectra.keys.cache import KeyEntry
from spectra.kit.clock import utc_now
from spectra.policy.decide import Decision, decide
from spectra.usage.defaults import known_models

from .admission import policy_inputs
from .wiring import Gateway

MONEY_REASONS = frozenset({"package_allowance_exhausted", "wallet_empty"})
ACCESS_REASONS = frozenset(
    {"model_not_in_key_scope", "model_not_in_package", "no_funding_source", "user_suspended"}
)
_GLOB = set("*?[")


async def decide_for(gw: Gateway, entry: KeyEntry, model: str) -> Decision:
    inputs = await policy_inputs(gw.policy, gw.view, entry, gw.workspace)
    return decide(inputs, model, now=utc_now())


def served_models(gw: Gateway) -> list[tuple[str, str]]:
    """(model, provider) the pool can serve now, sorted."""
    priced = known_models()
    out: dict[str, str] = {}
    for runtime in gw.scheduler.state.accounts.values():
        config = runtime.config
        for alias in config.aliases:
            out.setdefault(alias, config.provider)
        for pattern in config.models:
            if not _GLOB & set(pattern):
                out.setdefault(pattern, config.provider)
                continue
            for _provider, model in priced:
                if fnmatch.fnmatchcase(model, pattern):
                    out.setdefault(model, config.provider)
    return sorted(out.items())


async def usable_models(gw: Gateway, entry: KeyEntry) -> list[tuple[str, str]]:
    inputs = await policy_inputs(gw.policy, gw.view, entry, gw.workspace)
    now = utc_now()
    usable = []
    for model, provider in served_models(gw):
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
