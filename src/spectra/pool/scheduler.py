"""Candidate selection on the gateway's hot path, in memory (no database round trip).

    selection = scheduler.select(protocol, model, group_id, session_key, exclude=tried)
    try:
        ... send to selection.url(path) with selection.credential.reveal() ...
        scheduler.report(selection, Succeeded(latency_ms=..., ttfb_ms=..., ...))
    except UpstreamFailure as failure:
        scheduler.report(selection, failure)      # then select again with exclude
    finally:
        scheduler.release(selection)              # frees the concurrency slot (idempotent)

Candidates: accounts that speak the protocol, serve the model (after alias mapping), are open
to the caller's group, are usable (`active`, or `cooling` past its time) and are under their
caps. Only when no account of the caller's protocol is a candidate (and `translate` is on) are
the accounts of the other protocols considered, in `PROTOCOL_PROVIDERS` order, and only those
whose admin lets them take translated traffic (`AccountConfig.translate`); the selection's
`upstream_protocol` then says what to translate to (providers/translate; an account kind that
speaks several protocols gets its `TRANSLATION_TARGETS` one). The lowest priority tier with a
candidate wins; within it, a weighted random choice by
weight × health. A session key sticks to its account for `affinity_ttl` while it stays a
candidate.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spectra.kit.clock import monotonic, utc_now
from spectra.providers.errors import UpstreamFailure

from .affinity import RedisAffinity
from .credentials import Credential
from .errors import ModelNotServedError, NoAccountAvailableError, model_not_served
from .state import (
    MODEL_PROTOCOL_KINDS,
    PROTOCOL_PROVIDERS,
    TRANSLATION_TARGETS,
    AccountRuntime,
    PoolState,
    serves_in,
)
from .states import AccountState, Failure, Success, Tick
from .urls import upstream_url

PROTOCOLS = tuple(PROTOCOL_PROVIDERS)


TRANSLATION_OFF = "does not take translated traffic (translation off)"


@dataclass(frozen=True, slots=True)
class Skip:
    """Why a candidate that serves the model was not chosen (for the request's decision trace)."""

    account_id: uuid.UUID
    account_name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Succeeded:
    """A request through the account succeeded. Tokens and cost may come later via `record_usage`."""

    latency_ms: float | None = None
    ttfb_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0


@dataclass(eq=False, slots=True)
class Selection:
    """The chosen account for one attempt; holds a concurrency slot until released."""

    account_id: uuid.UUID
    account_name: str
    provider: str
    base_url: str
    credential: Credential
    upstream_model: str
    """The model name to send upstream (alias mapped)."""
    requested_model: str
    protocol: str
    """The caller's protocol."""
    priority: int
    sticky: bool
    """Chosen because the session key was bound to this account."""
    trace: list[Skip] = field(default_factory=list)
    """Candidates skipped on the way to this choice, with reasons."""
    selected_at: float = 0.0
    upstream_protocol: str = ""
    """The protocol the account is sent the request in; the caller's unless translated."""
    released: bool = False
    reported: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    """The account kind's settings (region, project, api_version)."""

    @property
    def translated(self) -> bool:
        return self.upstream_protocol != self.protocol

    def url(self, path: str) -> str:
        """The upstream URL for a protocol path such as `/v1/messages`."""
        return upstream_url(self.base_url, path)


@dataclass(slots=True)
class _Affinity:
    account_id: uuid.UUID
    expires_at: float


class Scheduler:
    def __init__(
        self,
        state: PoolState,
        *,
        affinity_ttl: timedelta = timedelta(hours=1),
        rng: random.Random | None = None,
    ) -> None:
        self.state = state
        self.affinity_ttl = affinity_ttl
        self.rng = rng or random.Random()
        self._affinity: dict[str, _Affinity] = {}
        self._selects = 0
        self.shared_affinity: RedisAffinity | None = None
        """Set when several processes share affinity through Redis (see affinity.py)."""

    async def recall(self, session_key: str | None) -> None:
        """Adopt the shared binding of `session_key` (if any) before `select`."""
        if session_key is None or self.shared_affinity is None:
            return
        account_id = await self.shared_affinity.recall(session_key)
        if account_id is not None:
            self._affinity[session_key] = _Affinity(
                account_id, monotonic() + self.affinity_ttl.total_seconds()
            )

    async def remember(self, session_key: str | None, selection: Selection) -> None:
        """Share the account `select` chose for `session_key` with the other processes."""
        if session_key is None or self.shared_affinity is None or selection.sticky:
            return
        await self.shared_affinity.remember(session_key, selection.account_id)

    def select(
        self,
        protocol: str,
        model: str,
        group_id: uuid.UUID | str | None,
        session_key: str | None,
        exclude: set[uuid.UUID] | frozenset[uuid.UUID] = frozenset(),
        *,
        translate: bool = True,
    ) -> Selection:
        """Choose an account and take a concurrency slot on it, or raise `NoAccountAvailableError`
        (some account lists the model, none is usable now) or `ModelNotServedError` (none lists
        it, in any protocol when `translate`)."""
        providers = PROTOCOL_PROVIDERS.get(protocol)
        if providers is None:
            raise ValueError(f"unknown protocol {protocol!r}")
        now = utc_now()
        group = None if group_id is None else str(group_id)
        trace: list[Skip] = []
        usable = self._candidates(protocol, providers, model, group, now, exclude, trace)
        upstream_protocol = protocol
        if not usable and translate:
            # A kind is looked at under one protocol only, but a kind whose protocol follows
            # the model (Vertex) under each: it serves any one model in only one of them.
            seen = set(providers) - MODEL_PROTOCOL_KINDS
            for other, kinds in PROTOCOL_PROVIDERS.items():
                fresh = kinds - seen
                if other == protocol or not fresh:
                    continue
                seen |= fresh - MODEL_PROTOCOL_KINDS
                usable = self._candidates(
                    other, fresh, model, group, now, exclude, trace, translated=True
                )
                if usable:
                    upstream_protocol = other
                    break
        if not usable:
            if all(s.reason == TRANSLATION_OFF for s in trace):
                # Configuration, not capacity: no alert, and the caller should not retry.
                raise _not_served(
                    self.state, model, protocol, providers, translate, translation_off=bool(trace)
                )
            reasons = [f"{s.account_name}: {s.reason}" for s in trace]
            self.state.alert_no_account(model, protocol, reasons)
            raise NoAccountAvailableError(
                f"No account can serve {model} right now; admins have been told.",
                model=model,
                protocol=protocol,
                skipped=[{"account": s.account_name, "reason": s.reason} for s in trace],
            )
        chosen, upstream, sticky = self._choose(usable, session_key, trace)
        if upstream_protocol != protocol and chosen.config.provider not in MODEL_PROTOCOL_KINDS:
            upstream_protocol = TRANSLATION_TARGETS.get(chosen.config.provider, upstream_protocol)
        if chosen.snapshot.state is AccountState.COOLING:
            self.state.apply_event(chosen.config.id, Tick(now), actor_label="gateway")
        chosen.figures.in_flight += 1
        chosen.figures.started(now)
        if session_key:
            self._prune_affinity()
            self._affinity[session_key] = _Affinity(
                chosen.config.id, monotonic() + self.affinity_ttl.total_seconds()
            )
        config = chosen.config
        return Selection(
            account_id=config.id,
            account_name=config.name,
            provider=config.provider,
            base_url=config.base_url,
            credential=config.credential,
            upstream_model=upstream,
            requested_model=model,
            protocol=protocol,
            priority=config.priority,
            sticky=sticky,
            trace=trace,
            selected_at=monotonic(),
            upstream_protocol=upstream_protocol,
            settings=config.settings,
        )

    def _candidates(
        self,
        protocol: str,
        providers: frozenset[str] | set[str],
        model: str,
        group: str | None,
        now: datetime,
        exclude: set[uuid.UUID] | frozenset[uuid.UUID],
        trace: list[Skip],
        *,
        translated: bool = False,
    ) -> list[tuple[AccountRuntime, str]]:
        """Usable accounts of `providers` serving `model` (with its upstream name); the ones
        that serve it but cannot take it now (or, when `translated`, not translated) are added
        to `trace`."""
        usable: list[tuple[AccountRuntime, str]] = []
        for runtime in self.state.accounts.values():
            config = runtime.config
            if config.provider not in providers:
                continue
            upstream = config.upstream_model(model)
            if upstream is None or not serves_in(config.provider, protocol, upstream):
                continue
            if translated and not config.translate:
                trace.append(Skip(config.id, config.name, TRANSLATION_OFF))
                continue
            reason = self._unusable(runtime, group, now, exclude)
            if reason is not None:
                trace.append(Skip(config.id, config.name, reason))
                continue
            usable.append((runtime, upstream))
        return usable

    def _unusable(
        self,
        runtime: AccountRuntime,
        group: str | None,
        now: datetime,
        exclude: set[uuid.UUID] | frozenset[uuid.UUID],
    ) -> str | None:
        config, snapshot, figures = runtime.config, runtime.snapshot, runtime.figures
        if config.id in exclude:
            return "already tried for this request"
        if not config.open_to(group):
            return "dedicated to other groups"
        if not snapshot.usable_at(now):
            if snapshot.state is AccountState.COOLING and snapshot.cooling_until is not None:
                return f"cooling until {snapshot.cooling_until.strftime('%H:%M:%S')} UTC ({snapshot.reason})"
            label = str(snapshot.state).replace("_", " ")
            return f"{label} ({snapshot.reason})" if snapshot.reason else label
        if config.max_concurrency is not None and figures.in_flight >= config.max_concurrency:
            return f"at its concurrency limit ({config.max_concurrency})"
        if config.rpm_cap is not None and figures.requests_last_minute(now) >= config.rpm_cap:
            return f"at its limit of {config.rpm_cap} requests per minute"
        if config.tpm_cap is not None and figures.tokens_last_minute(now) >= config.tpm_cap:
            return f"at its limit of {config.tpm_cap} tokens per minute"
        cap = config.monthly_spend_cap_micros
        if cap is not None and figures.cost_month_micros(now) >= cap:
            return "monthly spend cap reached"
        return None

    def _choose(
        self, usable: list[tuple[AccountRuntime, str]], session_key: str | None, trace: list[Skip]
    ) -> tuple[AccountRuntime, str, bool]:
        if session_key:
            bound = self._affinity.get(session_key)
            if bound is not None and bound.expires_at > monotonic():
                for runtime, upstream in usable:
                    if runtime.config.id == bound.account_id:
                        return runtime, upstream, True
            elif bound is not None:
                del self._affinity[session_key]
        if len(usable) == 1:
            # The common single-account pool: nothing to weigh (weights are always > 0).
            runtime, upstream = usable[0]
            return runtime, upstream, False
        tier = min(runtime.config.priority for runtime, _ in usable)
        in_tier = [(r, u) for r, u in usable if r.config.priority == tier]
        if len(in_tier) == 1:
            runtime, upstream = in_tier[0]
            return runtime, upstream, False
        weights = [r.config.weight * r.figures.health for r, _ in in_tier]
        runtime, upstream = self.rng.choices(in_tier, weights=weights, k=1)[0]
        return runtime, upstream, False

    def report(self, selection: Selection, outcome: Succeeded | UpstreamFailure) -> None:
        """Feed one attempt's outcome into the account's figures and state machine."""
        runtime = self.state.accounts.get(selection.account_id)
        if runtime is None:
            return
        now = utc_now()
        selection.reported = True
        if isinstance(outcome, Succeeded):
            runtime.figures.succeeded(now, latency_ms=outcome.latency_ms, ttfb_ms=outcome.ttfb_ms)
            if outcome.input_tokens or outcome.output_tokens or outcome.cost_micros:
                runtime.figures.add_usage(
                    now,
                    input_tokens=outcome.input_tokens,
                    output_tokens=outcome.output_tokens,
                    cost_micros=outcome.cost_micros,
                )
            self.state.apply_event(selection.account_id, Success(now), actor_label="gateway")
            return
        if outcome.type.value not in ("invalid_request", "context_too_long"):
            runtime.figures.failed(now)
        self.state.apply_event(
            selection.account_id,
            Failure(
                at=now,
                failure_type=outcome.type.value,
                retry_after=outcome.retry_after,
                status=outcome.status,
            ),
            actor_label="gateway",
        )

    def record_usage(
        self, account_id: uuid.UUID, *, input_tokens: int, output_tokens: int, cost_micros: int
    ) -> None:
        """Add settled tokens and cost (list price) to the account's figures (TPM, monthly cap)."""
        runtime = self.state.accounts.get(account_id)
        if runtime is not None:
            runtime.figures.add_usage(
                utc_now(),
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_micros=cost_micros,
            )

    def release(self, selection: Selection) -> None:
        """Give back the concurrency slot taken by `select`. Safe to call twice."""
        if selection.released:
            return
        selection.released = True
        runtime = self.state.accounts.get(selection.account_id)
        if runtime is not None and runtime.figures.in_flight > 0:
            runtime.figures.in_flight -= 1

    def _prune_affinity(self) -> None:
        # Amortised sweep so the map stays bounded by the sessions active within the TTL.
        self._selects += 1
        if self._selects % 1024:
            return
        now = monotonic()
        for key in [k for k, v in self._affinity.items() if v.expires_at <= now]:
            del self._affinity[key]

    def forget_session(self, session_key: str) -> None:
        self._affinity.pop(session_key, None)


def _not_served(
    state: PoolState,
    model: str,
    protocol: str,
    providers: frozenset[str],
    translate: bool,
    *,
    translation_off: bool,
) -> ModelNotServedError:
    """The refusal for a model that no account the caller may reach lists, aliases included:
    the caller's protocol's accounts, and with `translate` the others that take translated
    traffic."""
    served = sorted(
        {
            pattern
            for runtime in state.accounts.values()
            if runtime.config.provider in providers or (translate and runtime.config.translate)
            for pattern in runtime.config.models
        }
    )
    return model_not_served(model, protocol, served, translation_off=translation_off)
