"""Model fallbacks and the served model's price.

When the asked model cannot answer (`trigger_of`: overloaded, rate limited after failover
across the pool, no account free, or the prompt too long for it), `next_model` walks the
admin's chain (`pool.fallbacks.FallbackChains`, in memory) and switches the exchange's
admission to the first model the member may use: the key scope, packages and group policy
must allow it (the same `decide` as admission), it must be priced, and a new hold for its
estimate must fit (the asked model's hold is released first). A model that does not qualify
is skipped, and the record's `fallback_trace` says why.

Billing is at the price of the model served, on the provider serving it: an account alias
(`claude-sonnet-4-5` sent upstream as `deepseek-chat`) is charged at the upstream model's price
when it has one, and a cloud kind (Bedrock, Vertex, Gemini, Azure OpenAI) at its provider's
price (`served_price`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from spectra.kit.clock import utc_now
from spectra.ledger.errors import HoldStoreUnavailableError, InsufficientFundsError
from spectra.policy.budget_rules import budget_subjects, over_budget
from spectra.policy.decide import decide
from spectra.pool.errors import NoAccountAvailableError
from spectra.pool.scheduler import Selection
from spectra.providers.errors import FailureType, UpstreamFailure
from spectra.usage.pricing import Price

from .admission import Admission, context_window, estimate
from .exchange import Exchange
from .wiring import Gateway

log = logging.getLogger(__name__)

OWN_PRICES = frozenset({"bedrock", "vertex", "gemini", "azure_openai"})
"""Account kinds whose provider has its own prices (`usage.defaults.PROVIDER_PRICES`)."""

_TRIGGERS = frozenset(
    {FailureType.OVERLOADED, FailureType.RATE_LIMITED, FailureType.CONTEXT_TOO_LONG}
)


def trigger_of(exc: Exception) -> str | None:
    """The fallback reason for a request the asked model could not answer, or None."""
    if isinstance(exc, UpstreamFailure):
        return exc.type.value if exc.type in _TRIGGERS else None
    if isinstance(exc, NoAccountAvailableError):
        return NoAccountAvailableError.code
    return None


def chain_of(ex: Exchange) -> Iterator[str]:
    admission = ex.admission
    assert admission is not None
    return iter(ex.gw.fallbacks.chain(admission.model, admission.entry.group_id))


async def next_model(ex: Exchange, chain: Iterator[str], notes: list[str]) -> str | None:
    """Switch the admission to the next usable model of `chain` (its decision, price and a new
    hold) and return it; None when none is left. Each skipped model is noted with why."""
    admission = ex.admission
    assert admission is not None
    gw = ex.gw
    now = utc_now()
    for model in chain:
        decision = decide(admission.inputs, model, now=now)
        if not decision.allowed:
            notes.append(f"{model} skipped: {decision.reason_code}")
            continue
        price = gw.prices.price_for(model, now)
        if price is None:
            notes.append(f"{model} skipped: model_unpriced")
            continue
        window = context_window(model, price)
        micros, tokens = estimate(ex.info, price, gw.workspace.output_estimate_cap, window)
        await gw.settler.release(admission)
        counters = gw.policy.spend.budgets
        over = over_budget(admission.inputs, micros, counters, now)
        if over is not None:
            notes.append(f"{model} skipped: {over[1].code}")
            continue
        subjects = budget_subjects(admission.inputs)
        counters.reserve(subjects, micros)
        try:
            admission.hold = await gw.view.reserve(
                admission.request_id,
                [(pick.account_id, pick.cap_micros) for pick in decision.funding],
                amount=micros,
                expires_in=timedelta(seconds=gw.workspace.hold_expiry_seconds),
            )
        except (InsufficientFundsError, HoldStoreUnavailableError) as exc:
            counters.unreserve(subjects, micros)
            notes.append(f"{model} skipped: {exc.code}")
            continue
        admission.budget_subjects = subjects
        admission.model = model
        admission.decision = decision
        admission.price = price
        admission.estimate_micros = micros
        admission.estimate_tokens = tokens
        admission.window = window * max(ex.info.context.turns, ex.info.context.choices)
        notes.append(f"tried {model}")
        return model
    return None


def served_price(gw: Gateway, admission: Admission, selection: Selection) -> Price:
    """The price to charge: the served model's on the serving provider. The model is the
    upstream one when an alias sent another (priced) model, else the admitted one. An account
    kind with its own prices (`OWN_PRICES`) charges its provider's price, an override named
    `<kind>/<model>` first: Bedrock's regional price, or Azure's for the model a freely named
    deployment (an alias) serves, which falls back to the admitted model's price there."""
    upstream = selection.upstream_model
    provider = selection.provider if selection.provider in OWN_PRICES else None
    if provider is None:
        if upstream == admission.model:
            return admission.price
        models: tuple[str, ...] = (upstream,)
    else:
        models = tuple(dict.fromkeys((upstream, admission.model)))
    for model in models:
        price = gw.prices.price_for(model, admission.started_at, provider=provider)
        if price is not None:
            return price
    return admission.price
