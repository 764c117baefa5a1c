"""Admission: the access decision (policy), the price, rate limits, the cost estimate and the
hold, all in memory. Returns an `Admission` the rest of the request carries, or raises the
refusal (with the deciding rule attached for the usage record).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from spectra.errors import SpectraError
from spectra.keys.cache import KeyEntry
from spectra.kit.clock import utc_now
from spectra.ledger.errors import HoldStoreUnavailableError, InsufficientFundsError
from spectra.ledger.holds import BalanceView, Hold
from spectra.policy.budget_rules import budget_subjects, reserve_budget
from spectra.policy.decide import (
    ALLOWANCE,
    Decision,
    PolicyInputs,
    decide_fast,
    insufficient_for_request,
    static_refusal,
)
from spectra.policy.snapshot import PolicyCache
from spectra.providers.bodies import RequestInfo
from spectra.providers.metering import DEFAULT_CONTEXT_WINDOW
from spectra.usage import defaults
from spectra.usage.pricing import Price, TokenUsage, cost_micros
from spectra.usage.table import PriceTable
from spectra.workspace.schemas import WorkspaceSettings

from .errors import SettlementBacklogError, UnboundedCostError
from .limits import Lease, Limit, Limiter

LONG_CONTEXT_WINDOW = 1_000_000


@dataclass(slots=True)
class Admission:
    """What admission decided for one request."""

    request_id: str
    entry: KeyEntry
    model: str
    inputs: PolicyInputs
    decision: Decision
    price: Price
    estimate_micros: int
    estimate_tokens: int
    window: int = DEFAULT_CONTEXT_WINDOW
    """The bound of one model turn's tokens (`context_window`); reported usage is clamped to
    it (times the server-tool turns, `ServerContext.turns`)."""
    hold: Hold | None = None
    lease: Lease | None = None
    started_at: datetime = field(default_factory=utc_now)
    budget_subjects: tuple[uuid.UUID, ...] = ()
    """Keys and projects whose budgets hold `estimate_micros` until settlement or release."""


class AdmissionRefused(Exception):  # noqa: N818 - carries a refusal plus what to record
    """A refusal with the rule that decided it and what admission knew (for the usage record)."""

    def __init__(self, error: SpectraError, rule: str, inputs: PolicyInputs | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.rule = rule
        self.inputs = inputs


async def policy_inputs(
    cache: PolicyCache,
    view: BalanceView,
    entry: KeyEntry,
    settings: WorkspaceSettings,
    client: str | None = None,
    project: str | None = None,
) -> PolicyInputs:
    """The decision's inputs for this key's member, from memory (available = balance - holds,
    month-to-date spend from the policy cache's counters); `project` = `x-spectra-project`."""
    snap = cache.snapshot
    available = await view.available_many(snap.member(entry.user_id, entry.group_id).accounts)
    return snap.inputs(
        user_id=entry.user_id,
        user_email=entry.user_email,
        user_status=entry.user_status,
        group_id=entry.group_id,
        available=available,
        key_id=entry.key_id,
        key_scopes=entry.scopes,
        currency=settings.currency,
        time_zone=settings.time_zone,
        client=client,
        spent=cache.spend.spent(group_id=entry.group_id, user_id=entry.user_id, now=utc_now()),
        project_header=project,
        budget_spend=cache.spend.budgets,
    )


def context_window(model: str, price: Price) -> int:
    """The model's context window (genai-prices), at least `LONG_CONTEXT_WINDOW` when its
    price has long-context tiers (those exist because it takes such prompts), and
    `DEFAULT_CONTEXT_WINDOW` when unknown. Bounds holds for kept input and reported usage."""
    window = defaults.context_window(model) or DEFAULT_CONTEXT_WINDOW
    return max(window, LONG_CONTEXT_WINDOW) if price.tiers else window


def estimate(info: RequestInfo, price: Price, output_cap: int, window: int = 0) -> tuple[int, int]:
    """(micros, tokens) to hold: the input size estimate plus min(max_tokens, cap) output tokens
    per completion (`n`). When the request pulls in input the upstream keeps (an earlier
    response, a conversation, files, server tools: `info.context`), the input held is the
    model's whole context `window` instead of the body's size.

    The cap keeps a client asking for a huge `max_tokens` (Claude Code asks for 64,000) from
    locking out a member with a small balance; a cost above the hold is still charged (the
    overspend bound).

    A request that may write 1-hour cache entries (`info.cache_write_1h`) holds its input as
    1-hour writes (2x input for Anthropic), the dearest class input can be billed as; one with
    a server-side web search tool holds `context.turns` search calls.
    """
    output = min(info.max_tokens, output_cap) if info.max_tokens else output_cap
    input_tokens = info.input_tokens_estimate
    if info.context.keeps_input:
        input_tokens = max(input_tokens, window)
    written = input_tokens if info.cache_write_1h else 0
    searches = info.context.turns if any("search" in t for t in info.context.server_tools) else 0
    usage = TokenUsage(
        input_tokens=input_tokens - written,
        output_tokens=max(output, 0) * info.context.choices,
        cache_write_tokens=written,
        cache_write_1h_tokens=written,
        web_search_calls=searches,
    )
    return max(int(cost_micros(usage, price)), 1), usage.total_tokens


def with_key_limits(key_limits: Limit, inputs: PolicyInputs) -> Limit:
    """The deployment's per-key limits, with the key budget's own where it sets them."""
    if inputs.key_rpm is None and inputs.key_tpm is None and inputs.key_concurrency is None:
        return key_limits
    return Limit(
        key_limits.scope,
        key_limits.subject,
        key_limits.label,
        rpm=inputs.key_rpm if inputs.key_rpm is not None else key_limits.rpm,
        tpm=inputs.key_tpm if inputs.key_tpm is not None else key_limits.tpm,
        concurrency=(
            inputs.key_concurrency if inputs.key_concurrency is not None else key_limits.concurrency
        ),
    )


def limits_for(
    entry: KeyEntry, decision: Decision, inputs: PolicyInputs, key_limits: Limit, user_limits: Limit
) -> list[Limit]:
    out = [lim for lim in (key_limits, user_limits) if lim.rpm or lim.tpm or lim.concurrency]
    if inputs.rpm or inputs.tpm or inputs.max_concurrent:
        out.append(
            Limit(
                "group_member",
                f"{inputs.group_id}:{inputs.user_id}",
                f"Each member of group '{inputs.group_name}'",
                rpm=inputs.rpm,
                tpm=inputs.tpm,
                concurrency=inputs.max_concurrent,
            )
        )
    by_assignment = {p.assignment_id: p for p in inputs.packages}
    for pick in decision.funding:
        if pick.kind != ALLOWANCE or pick.assignment_id is None:
            continue
        pkg = by_assignment.get(pick.assignment_id)
        if pkg is not None and (pkg.rpm or pkg.tpm or pkg.max_concurrent):
            out.append(
                Limit(
                    "package",
                    str(pkg.assignment_id),
                    f"Package '{pkg.package_name}'",
                    rpm=pkg.rpm,
                    tpm=pkg.tpm,
                    concurrency=pkg.max_concurrent,
                )
            )
    return out


STATIC_CACHE_SIZE = 8192
"""At most this many (key, model, client, project) outcomes per snapshot; then it starts over."""


def static_ok(
    cache: PolicyCache,
    entry: KeyEntry,
    inputs: PolicyInputs,
    model: str,
    client: str | None,
    project: str | None,
) -> bool:
    """Whether the decision's static rules pass, computed once per key entry, model, client
    and project header for the snapshot (which empties the cache whenever its facts change;
    a key change, a suspension or a revocation makes a new `KeyEntry`, so a new key here)."""
    static = cache.snapshot.static
    slot = (id(entry), model, client, project)
    hit = static.get(slot)
    if hit is not None and hit[0] is entry:
        return hit[1]
    ok = not static_refusal(inputs, model)
    if len(static) >= STATIC_CACHE_SIZE:
        static.clear()
    static[slot] = (entry, ok)
    return ok


class Backlog(Protocol):
    """The settlement backlog admission waits on (the group committer)."""

    @property
    def has_room(self) -> bool: ...

    async def wait_for_room(self, seconds: float) -> bool: ...


async def wait_for_backlog(backlog: Backlog, seconds: float) -> None:
    """Back-pressure: while the committer holds `max_queue` uncommitted items, wait up to
    `seconds` for it to drain, then refuse `settlement_backlog` (503, retry later)."""
    if backlog.has_room or await backlog.wait_for_room(seconds):
        return
    exc = SettlementBacklogError(
        "The gateway is writing finished requests more slowly than they arrive; retry shortly.",
        retry_after=max(1, math.ceil(seconds)),
    )
    raise AdmissionRefused(exc, "backlog")


async def admit(
    *,
    request_id: str,
    entry: KeyEntry,
    info: RequestInfo,
    model: str,
    cache: PolicyCache,
    view: BalanceView,
    prices: PriceTable,
    limiter: Limiter,
    settings: WorkspaceSettings,
    key_limits: Limit,
    user_limits: Limit,
    client: str | None = None,
    backlog: Backlog | None = None,
    backlog_wait: float = 0.0,
    project: str | None = None,
) -> Admission:
    """Decide, price, rate-limit, estimate and hold; raises `AdmissionRefused`. `client` is the
    request's client family (for the group's allowed clients). With `backlog`, first wait for
    room in the settlement backlog (`wait_for_backlog`)."""
    if backlog is not None:
        await wait_for_backlog(backlog, backlog_wait)
    now = utc_now()
    try:
        inputs = await policy_inputs(cache, view, entry, settings, client, project)
    except HoldStoreUnavailableError as exc:
        raise AdmissionRefused(exc, "hold") from exc
    decision = decide_fast(
        inputs, model, now=now, static_ok=static_ok(cache, entry, inputs, model, client, project)
    )
    if not decision.allowed:
        assert decision.error is not None
        raise AdmissionRefused(decision.error, decision.deciding_rule, inputs)
    try:
        price = prices.require_price(model, now)
    except SpectraError as exc:
        raise AdmissionRefused(exc, "price", inputs) from exc
    if info.context.unbounded is not None:
        unbounded = UnboundedCostError(
            f"Spectra cannot bound the cost of '{info.context.unbounded}' requests before "
            f"sending them; send the request without '{info.context.unbounded}'.",
            field=info.context.unbounded,
        )
        raise AdmissionRefused(unbounded, "hold", inputs)
    window = context_window(model, price)
    micros, tokens = estimate(info, price, settings.output_estimate_cap, window)
    try:
        lease = await limiter.acquire(
            limits_for(entry, decision, inputs, with_key_limits(key_limits, inputs), user_limits),
            tokens,
        )
    except SpectraError as exc:
        raise AdmissionRefused(exc, "rate_limit", inputs) from exc
    # One atomic check-and-add (in this process, or in Redis for every process).
    counters = cache.spend.budgets
    subjects = budget_subjects(inputs)
    try:
        over = await reserve_budget(
            inputs,
            request_id,
            micros,
            counters,
            utc_now(),
            ttl_seconds=settings.hold_expiry_seconds,
        )
    except HoldStoreUnavailableError as exc:
        lease.finish(0)
        raise AdmissionRefused(exc, "hold", inputs) from exc
    if over is not None:
        lease.finish(0)
        raise AdmissionRefused(over[1], over[0], inputs)
    plan = [(pick.account_id, pick.cap_micros) for pick in decision.funding]
    try:
        hold = await view.reserve(
            request_id,
            plan,
            amount=micros,
            expires_in=timedelta(seconds=settings.hold_expiry_seconds),
        )
    except InsufficientFundsError as exc:
        await counters.release(request_id, subjects, micros)
        lease.finish(0)
        raise AdmissionRefused(
            insufficient_for_request(inputs, decision, model, micros), "hold", inputs
        ) from exc
    except HoldStoreUnavailableError as exc:
        await counters.release(request_id, subjects, micros)
        lease.finish(0)
        raise AdmissionRefused(exc, "hold", inputs) from exc
    except BaseException:
        await counters.release(request_id, subjects, micros)
        raise
    return Admission(
        request_id=request_id,
        entry=entry,
        model=model,
        inputs=inputs,
        decision=decision,
        price=price,
        estimate_micros=micros,
        estimate_tokens=tokens,
        window=window * max(info.context.turns, info.context.choices),
        hold=hold,
        lease=lease,
        started_at=now,
        budget_subjects=subjects,
    )


def funding_kind(decision: Decision, account_id: uuid.UUID) -> str:
    for pick in decision.funding:
        if pick.account_id == account_id:
            return pick.kind
    return "unknown"
