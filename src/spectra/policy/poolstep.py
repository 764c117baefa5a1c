"""The pool step of an explained decision (pure): after the rules say who may use the model and
who pays, whether any account can serve it. A model no account serves is refused as
`model_not_served`, as the gateway refuses it; accounts that list it but cannot take it now
leave the decision allowed with a warning (the gateway answers `no_account_available` until
one recovers)."""

from __future__ import annotations

from dataclasses import replace

from spectra.pool.coverage import NOT_SERVED, SERVED, Coverage
from spectra.pool.errors import model_not_served
from spectra.pool.scheduler import TRANSLATION_OFF

from .facts import Decision, TraceStep


def with_pool_step(decision: Decision, found: Coverage) -> Decision:
    """`decision` with the pool step appended (and refused when no account serves the model)."""
    facts = {
        "model": found.model,
        "protocol": found.protocol,
        "verdict": found.verdict,
        "accounts": [a.as_json() for a in found.accounts],
    }
    listing = [a for a in found.accounts if a.upstream_model is not None]
    skipped = "; ".join(f"{a.account}: {a.reason}" for a in listing if not a.usable)
    if found.verdict == SERVED:
        usable = ", ".join(
            f"{a.account} ({'translated to ' if a.translated else ''}{'/'.join(a.protocols)})"
            for a in listing
            if a.usable
        )
        detail = f"{found.model} can be served by {usable}" + (
            f"; skipped {skipped}" if skipped else ""
        )
        step = TraceStep("pool", "pass", detail, facts)
        return replace(decision, trace=(*decision.trace, step))
    if found.verdict != NOT_SERVED:
        detail = (
            f"{found.model} is listed, but no account can take it now ({skipped}); requests get "
            "no_account_available until one recovers"
        )
        return replace(decision, trace=(*decision.trace, TraceStep("pool", "warn", detail, facts)))
    translation_off = any(a.reason == TRANSLATION_OFF for a in listing)
    error = model_not_served(
        found.model, found.protocol, list(found.served), translation_off=translation_off
    )
    step = TraceStep("pool", "deny", error.message, facts)
    if not decision.allowed:
        return replace(decision, trace=(*decision.trace, step))
    return replace(
        decision,
        allowed=False,
        reason_code=error.code,
        message=error.message,
        deciding_rule="pool",
        funding=(),
        trace=(*decision.trace, step),
        error=error,
    )
