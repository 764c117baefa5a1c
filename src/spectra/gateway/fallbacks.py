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

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

from spectra.errors import SpectraError
from spectra.kit.clock import utc_now
from spectra.ledger.errors import HoldStoreUnavailableError, InsufficientFundsError
from spectra.ledger.holds import Hold
from spectra.policy.budget_rules import budget_subjects, reserve_budget
from spectra.policy.decide import Decision, decide, insufficient_for_request
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
        subjects = budget_subjects(admission.inputs)
        try:
            over = await _reserve_budget(gw, admission, micros)
        except HoldStoreUnavailableError as exc:
            notes.append(f"{model} skipped: {exc.code}")
            continue
        if over is not None:
            notes.append(f"{model} skipped: {over[1].code}")
            continue
        try:
            admission.hold = await _reserve(gw, admission.request_id, decision, micros)
        except (InsufficientFundsError, HoldStoreUnavailableError) as exc:
            await counters.release(admission.request_id, subjects, micros)
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


async def _reserve_budget(
    gw: Gateway, admission: Admission, micros: int
) -> tuple[str, SpectraError] | None:
    return await reserve_budget(
        admission.inputs,
        admission.request_id,
        micros,
        gw.policy.spend.budgets,
        utc_now(),
        ttl_seconds=gw.workspace.hold_expiry_seconds,
    )


async def _reserve(gw: Gateway, request_id: str, decision: Decision, micros: int) -> Hold:
    return await gw.view.reserve(
        request_id,
        [(pick.account_id, pick.cap_micros) for pick in decision.funding],
        amount=micros,
        expires_in=timedelta(seconds=gw.workspace.hold_expiry_seconds),
    )


async def hold_served(ex: Exchange, selection: Selection) -> None:
    """Before a request goes to `selection`: when the model it serves there is dearer than the
    admitted one (an alias to a dearer upstream model, a cloud provider's own price), re-place
    the hold at the served price, so the hold covers what settlement will charge.

    Raises the member's funds refusal (`insufficient_for_request`, a `RefusedError`) when the
    balance cannot hold it; the admitted hold is put back first, so another account serving
    the model at its admitted price can still take the request (`forward` tries it)."""
    admission = ex.admission
    assert admission is not None
    gw = ex.gw
    held = admission.hold
    served = selection.upstream_model or admission.model
    model = served if served == admission.model else f"{admission.model} (as {served})"
    if held is None:  # the admitted hold could not be put back after a refusal below
        raise insufficient_for_request(
            admission.inputs, admission.decision, model, admission.estimate_micros
        )
    price = served_price(gw, admission, selection)
    if price is admission.price:
        return
    micros, _ = estimate(
        ex.info, price, gw.workspace.output_estimate_cap, context_window(served, price)
    )
    if micros <= held.amount:
        return
    admitted = admission.estimate_micros
    await gw.settler.release(admission)  # the hold and the budget reservation, both
    counters = gw.policy.spend.budgets
    subjects = budget_subjects(admission.inputs)
    over = None
    try:
        over = await _reserve_budget(gw, admission, micros)
        if over is not None:
            raise over[1]
        try:
            admission.hold = await _reserve(gw, admission.request_id, admission.decision, micros)
        except BaseException:
            await counters.release(admission.request_id, subjects, micros)
            raise
    except SpectraError as exc:
        # Put the admitted hold and budget reservation back, unchecked (if the hold no longer
        # fits, no account is sent the request).
        with contextlib.suppress(HoldStoreUnavailableError):
            await counters.reserve_within(
                admission.request_id,
                (),
                subjects,
                admitted,
                utc_now(),
                ttl_seconds=gw.workspace.hold_expiry_seconds,
            )
        admission.budget_subjects = subjects
        with contextlib.suppress(InsufficientFundsError):
            admission.hold = await _reserve(
                gw, admission.request_id, admission.decision, held.amount
            )
        if isinstance(exc, HoldStoreUnavailableError) or over is not None:
            raise
        raise insufficient_for_request(admission.inputs, admission.decision, model, micros) from exc
    admission.budget_subjects = subjects
    admission.estimate_micros = micros


def exhausted(exc: SpectraError, asked: str, trace: str) -> SpectraError:
    """What the caller is told when `asked` could not answer and no model of its chain did: the
    same error (status, type, code, in the caller's protocol) with a sentence naming each
    fallback model tried or skipped and why. An upstream error body (already in the caller's
    protocol) keeps its shape; only its `error.message` gains the sentence."""
    note = f" Fallbacks for {asked}: {trace}."
    if not isinstance(exc, UpstreamFailure):
        return type(exc)(exc.message + note, **exc.details)
    body = _with_note(exc.body, note)
    return UpstreamFailure(
        exc.type,
        exc.message + note,
        status=exc.status,
        retry_after=exc.retry_after,
        provider_message=exc.provider_message,
        body=body,
        headers=exc.headers,
        phase=exc.phase,
    )


def _with_note(body: bytes, note: str) -> bytes:
    """`body` with `note` after its `error.message` (OpenAI, Anthropic and Gemini errors all
    carry one); unchanged when it is not such a JSON error."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return body
    error["message"] += note
    return json.dumps(parsed, separators=(",", ":")).encode()


def served_price(gw: Gateway, admission: Admission, selection: Selection) -> Price:
    """The price to charge: the served model's on the serving provider. The model is the
    upstream one when an alias sent another (priced) model, else the admitted one. An account
    kind with its own prices (`OWN_PRICES`) charges its provider's price, an override named
    `<kind>/<model>` first: Bedrock's regional price, or Azure's for the model a freely named
    deployment (an alias) serves, which falls back to the admitted model's price there. An
    override for the serving account (`@<account id>/<model>`, a negotiated price) comes before
    all of these, for the upstream model, then the admitted one."""
    upstream = selection.upstream_model
    account = selection.account_id
    for model in dict.fromkeys((upstream, admission.model)):
        row = gw.prices.account_override(account, model, admission.started_at)
        if row is not None:
            return row.price(model, web_search_default=gw.prices.default_web_search())
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
