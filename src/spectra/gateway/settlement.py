"""Settlement: the exact cost of a finished request, its hold settled, and the usage record and
the ledger postings written together, in one transaction per batch, by the group committer.

Billing policy (docs/gateway.md states it for members and admins):
- cost = Σ tokens × price per class, summed exactly, rounded once per request, half up;
- a finished request is billed for the usage the upstream reported;
- a stream that ended early (cut by the upstream, or the client went away, which cancels the
  upstream request) is billed for the tokens the upstream reported or, when it reported none,
  for an estimate: input = request bytes / 4, output = characters of relayed deltas / 4
  (rounded up); the larger of reported and estimated output counts;
- an attempt that failed before generating anything is not billed; a failed-over attempt is
  never billed (only the attempt that relayed bytes to the client is);
- an answer without usage (streamed or not) is billed on the same estimate, and reported counts
  that are not sane are replaced or clamped (`providers.metering`); such a record is marked
  `is_estimated`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from spectra.audit.actor import GATEWAY
from spectra.db.batch import GroupCommitter, defer
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.ledger import service as ledger_service
from spectra.ledger.holds import BalanceView, LedgerTransactionSpec
from spectra.policy.counters import SpendCounters
from spectra.providers.metering import Metered
from spectra.providers.types import Usage
from spectra.usage import service as usage_service
from spectra.usage.pricing import TokenUsage, cost_micros
from spectra.usage.schemas import FundingSource, UsageRecordCreate

from .access_log import AccessLog
from .admission import Admission, funding_kind
from .errors import SettlementBacklogError
from .journal import SettlementJournal
from .tracing import Tracing

log = logging.getLogger(__name__)


class Settler:
    """Submits settlements and refusal records to the group committer without waiting for them."""

    def __init__(
        self,
        committer: GroupCommitter,
        view: BalanceView,
        spend: SpendCounters | None = None,
        journal: SettlementJournal | None = None,
        access: AccessLog | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.committer = committer
        self.access = access
        """Each settled or recorded request's line goes here (`access_log.py`)."""
        self.tracing = tracing
        """Traces a recorded (unanswered) request when `SPECTRA_OTEL` is on (`tracing.py`)."""
        self.view = view
        self.journal = journal
        """Each settlement is appended here before it is queued (`journal.py`)."""
        self.spend = spend
        """Month-to-date spend counters the cap rules read; each settled cost is added."""
        self._pending: set[asyncio.Future[Any]] = set()
        self._callbacks: set[asyncio.Task[None]] = set()
        self.failed = 0
        self.journal_failed = 0
        """Settlements the journal could not take (a disk error): not crash-safe, still written."""
        self.dropped = 0
        """`settlement_backlog` refusals not written as usage records."""

    async def settle(
        self,
        admission: Admission,
        record: UsageRecordCreate,
        metered: Metered | None,
        http_status: int | None = None,
    ) -> int:
        """Charge `metered` usage (None = not billed) against the admission's hold; queue the
        record and the postings. Returns the cost in micros. `http_status` (what the caller was
        answered) is for the access log only."""
        tokens = _tokens(metered.usage if metered is not None else None)
        cost = int(cost_micros(tokens, admission.price)) if tokens.billable else 0
        spec: LedgerTransactionSpec | None = None
        if admission.hold is not None:
            spec = await self.view.settle(
                admission.hold,
                cost,
                # The hold's id, made here: a caller's request id is logged, never trusted to
                # key money (a repeated or borrowed one would merge or drop charges).
                idempotency_key=f"usage:{admission.hold.id}",
                memo=f"{record.model_requested} via gateway",
                metadata={"request_id": admission.request_id, "model": record.model_requested},
            )
            admission.hold = None
        funding: tuple[FundingSource, ...] = ()
        if spec is not None:
            funding = tuple(
                FundingSource(account_id, funding_kind(admission.decision, account_id), charge)
                for account_id, charge in spec.charges.items()
            )
        record = replace(
            record,
            # The id is the record's idempotency key when the journal is replayed.
            id=record.id or uuid7(),
            input_tokens=tokens.input_tokens,
            output_tokens=tokens.output_tokens,
            cache_read_tokens=tokens.cache_read_tokens,
            cache_write_tokens=tokens.cache_write_tokens,
            cache_write_1h_tokens=tokens.cache_write_1h_tokens,
            web_search_calls=tokens.web_search_calls,
            cost_micros=cost,
            price_version=admission.price.version_id,
            funding=funding,
            is_estimated=metered is not None and metered.estimated,
        )
        if self.spend is not None:
            now = utc_now()
            self.spend.budgets.settle(
                admission.request_id,
                admission.budget_subjects,
                admission.estimate_micros,
                key_id=admission.entry.key_id,
                project_id=admission.inputs.project_id,
                micros=cost,
                at=now,
            )
            admission.budget_subjects = ()
            if cost:
                self.spend.add(
                    group_id=admission.entry.group_id,
                    user_id=admission.entry.user_id,
                    micros=cost,
                    at=now,
                )
        token = self._journal(record, spec)
        self._submit(record, spec, token)
        if self.access is not None:
            self.access.write(record, key_prefix=admission.entry.prefix, http_status=http_status)
        return cost

    def _journal(self, record: UsageRecordCreate, spec: LedgerTransactionSpec | None) -> object:
        """Append to the journal; a failing disk (full, read-only) costs the crash safety of
        this settlement, never the request: it is logged and the committer still takes it."""
        if self.journal is None:
            return None
        try:
            return self.journal.append(record, spec)
        except OSError as exc:
            self.journal_failed += 1
            if self.journal_failed % 1000 == 1:
                log.error(
                    "settlement journal write failed (%s); %d so far", exc, self.journal_failed
                )
            return None

    async def release(self, admission: Admission) -> None:
        if self.spend is not None and admission.budget_subjects:
            subjects, admission.budget_subjects = admission.budget_subjects, ()
            await self.spend.budgets.release(
                admission.request_id, subjects, admission.estimate_micros
            )
        if admission.hold is not None:
            await self.view.release(admission.hold)
            admission.hold = None

    def record(self, record: UsageRecordCreate) -> None:
        """Queue a record that moves no money (a refusal, an unbilled failure).

        A `settlement_backlog` refusal is not queued: writing it would grow the backlog it was
        refused for. It is counted (`dropped`, and the requests metric by reason) and logged."""
        if self.access is not None:
            self.access.write(record, key_prefix=None, http_status=None)
        if self.tracing is not None:
            self.tracing.recorded(record)
        if record.refusal_reason == SettlementBacklogError.code:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning(
                    "settlement backlog: refusing requests (%d refusals not recorded so far)",
                    self.dropped,
                )
            return
        self._submit(record, None)

    def _submit(
        self, record: UsageRecordCreate, spec: LedgerTransactionSpec | None, token: object = None
    ) -> None:
        async def work(session: Session) -> _Settlement:
            item = _Settlement(record, spec)
            # Written once per batch, ledger first: see `_write_batch`.
            await defer(session, _write_batch, item)
            return item

        try:
            future = self.committer.submit_nowait(work)
        except RuntimeError:
            log.error(
                "usage record %s not written: the group committer is stopped%s",
                record.request_id,
                "" if token is None else " (it stays in the settlement journal for the next start)",
            )
            if spec is not None:
                self._later(self.view.discard(spec))
            return
        self._pending.add(future)
        future.add_done_callback(lambda f: self._done(f, spec, token))

    def _done(
        self, future: asyncio.Future[Any], spec: LedgerTransactionSpec | None, token: object
    ) -> None:
        self._pending.discard(future)
        failed = future.cancelled() or future.exception() is not None
        if failed:
            # Not written (the database failed): the journal keeps it, for the next start.
            log.error("a settlement batch item failed; its hold money was not taken")
        else:
            if token is not None and self.journal is not None:
                self.journal.done(token)  # written, or refused for good by the ledger
            item: _Settlement = future.result()
            if item.error is not None:
                failed = True
                log.error(
                    "settlement of %s not written (%s: %s); its hold money was not taken",
                    item.record.request_id,
                    item.error.code,
                    item.error.message,
                )
        if failed:
            self.failed += 1
        if spec is not None:
            self._later(self.view.discard(spec) if failed else self.view.written(spec))

    def _later(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    async def flush(self) -> None:
        """Wait until every queued settlement is committed (or failed) and applied to the view.

        Cancelling the wait (a caller's timeout) leaves the settlements queued: `asyncio.wait`,
        unlike `gather`, does not cancel them, so none is counted failed and dropped from the
        view while the committer still writes it."""
        if self._pending:
            await asyncio.wait(list(self._pending))
        if self._callbacks:
            await asyncio.wait(list(self._callbacks))


@dataclass(slots=True)
class _Settlement:
    """One settlement item of a committer batch; `error` is set when its spec was refused."""

    record: UsageRecordCreate
    spec: LedgerTransactionSpec | None
    error: SpectraError | None = None


async def _write_batch(session: Session, items: list[_Settlement]) -> None:
    """Write a batch's settlements: every ledger transaction first (one `post_specs`), then
    every usage record (one INSERT) carrying its transaction's id, so the foreign key always
    points at a row already written. A spec the ledger refuses (skip-and-report) writes neither
    its transaction nor its record; the rest of the batch commits."""
    charged = [item for item in items if item.spec is not None]
    posted = await ledger_service.post_specs(
        session, GATEWAY, [item.spec for item in charged if item.spec is not None]
    )
    txn_ids: dict[int, uuid.UUID] = {}
    for item, outcome in zip(charged, posted, strict=True):
        if outcome.error is not None:
            item.error = outcome.error
        elif outcome.transaction_id is not None:
            txn_ids[id(item)] = outcome.transaction_id
    records = [
        replace(item.record, ledger_transaction_id=txn_ids[id(item)])
        if id(item) in txn_ids
        else item.record
        for item in items
        if item.error is None
    ]
    await usage_service.record_usage_batch(session, records)


def _tokens(usage: Usage | None) -> TokenUsage:
    if usage is None:
        return TokenUsage()
    return TokenUsage(
        input_tokens=max(usage.input_tokens, 0),
        output_tokens=max(usage.output_tokens, 0),
        cache_read_tokens=max(usage.cache_read_tokens, 0),
        cache_write_tokens=max(usage.cache_write_tokens, 0),
        cache_write_1h_tokens=min(max(usage.cache_write_1h_tokens, 0), usage.cache_write_tokens),
        web_search_calls=max(usage.web_search_calls, 0),
    )


def base_record(
    *,
    request_id: str,
    protocol: str,
    model: str,
    admission: Admission | None,
    client_family: str,
    user_id: uuid.UUID | None = None,
    key_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    streamed: bool = False,
) -> UsageRecordCreate:
    entry = admission.entry if admission is not None else None
    return UsageRecordCreate(
        request_id=request_id,
        protocol=protocol,
        model_requested=model,
        status="ok",
        user_id=entry.user_id if entry else user_id,
        key_id=entry.key_id if entry else key_id,
        group_id=entry.group_id if entry else group_id,
        project_id=admission.inputs.project_id if admission is not None else None,
        is_streamed=streamed,
        client_family=client_family,
        started_at=admission.started_at if admission is not None else utc_now(),
    )
