"""One generation request's state, from the parsed body to the settled record: the `Exchange`.

The pipeline (generation.py) fills it in as the request goes: the key's entry, the parsed
request, the body and headers, then the admission (price, hold, rate-limit lease), the forwarded
attempt (the account's selection and its response), the usage record being built and the
timings. `close` is the one place that gives back what the request took (the pool slot, the
hold, the rate-limit lease): the endpoint calls it once, in a `finally`, on every exit path;
each release is idempotent, so what settlement already settled is not released again.
Fields are positional in the order below (the pipeline builds one per request, positionally).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from spectra.keys.cache import KeyEntry
from spectra.providers.bodies import RequestInfo
from spectra.providers.translate import TranslationContext
from spectra.providers.types import WireProtocol
from spectra.usage.schemas import UsageRecordCreate

from .admission import Admission
from .selection import Attempts, Forwarded
from .wiring import Gateway


@dataclass(slots=True, eq=False)
class Exchange:
    """One generation request passed through the pipeline (entry, request, attempt, record)."""

    gw: Gateway
    protocol: WireProtocol
    path: str
    """The caller's path (the upstream path when the account speaks the caller's protocol)."""
    scope: Scope
    receive: Receive
    send: Send
    request_id: str
    entry: KeyEntry
    info: RequestInfo
    body: bytes
    decompressed: bool
    """The body arrived compressed and `body` is its decompressed form."""
    headers: list[tuple[str, str]]
    client_family: str
    admission: Admission | None = None
    record: UsageRecordCreate | None = None
    """The usage record so far (who, what, when); finished by settlement."""
    forwarded: Forwarded | None = None
    """The attempt that answered (its selection holds a pool slot until `close`)."""
    attempts: Attempts | None = None
    """The current model's attempts (a fallback model starts afresh)."""
    tries: int = 0
    """Attempts over every model tried (the record's `attempts`)."""
    fallback_reason: str | None = None
    """Why the fallback chain was used (`fallbacks.trigger_of`)."""
    fallback_trace: str | None = None
    """The fallback models tried or skipped, and why."""
    started: float = 0.0
    """`time.monotonic()` when admission let the request through (latency's origin)."""
    first_byte_at: float | None = None

    @property
    def anthropic(self) -> bool:
        return self.protocol is WireProtocol.ANTHROPIC_MESSAGES

    @property
    def model(self) -> str:
        return self.info.model or ""

    @property
    def translation(self) -> TranslationContext | None:
        """Set when the serving account speaks another protocol."""
        return self.forwarded.translation if self.forwarded is not None else None

    @property
    def upstream_protocol(self) -> WireProtocol:
        """The protocol the answer arrives in (the caller's unless translated)."""
        ctx = self.translation
        return self.protocol if ctx is None else ctx.upstream

    @property
    def holding(self) -> bool:
        """Admitted (a hold, a lease) or forwarded (a pool slot): `close` has work to do."""
        return self.admission is not None or self.forwarded is not None

    async def close(self) -> None:
        """Give back the pool slot, the hold and the rate-limit lease, whichever are still held.

        The single owner of cleanup for the request: settlement settles the hold and corrects
        the lease on the paths that finish normally; whatever a refusal, an upstream error, a
        client that went away, a bug or a cancellation left behind is released here, once."""
        if self.forwarded is not None:
            self.gw.scheduler.release(self.forwarded.selection)
        admission = self.admission
        if admission is not None:
            if admission.hold is not None:
                await self.gw.settler.release(admission)
            if admission.lease is not None:
                admission.lease.finish(0)
