"""Micro benchmark: the settlement journal's cost per request (encode + one write + done).

    .venv/bin/python bench/journal_micro.py [N]

Prints microseconds per settlement for the journal alone, the best of many short rounds (the
least disturbed by other processes on a shared machine) and the mean, and the same for a
calibration loop (one `json.dumps` of a 40-int list), so a figure from a loaded machine can be
read against it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from spectra.gateway.journal import SettlementJournal, decode, encode
from spectra.kit.clock import utc_now
from spectra.ledger.balance_view import LedgerTransactionSpec
from spectra.ledger.models import TransactionKind
from spectra.usage.schemas import FundingSource, UsageRecordCreate


def sample() -> tuple[UsageRecordCreate, LedgerTransactionSpec]:
    """A realistic settlement: every id set, one funding source, a two-posting transaction."""
    wallet, expense, hold = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    record = UsageRecordCreate(
        request_id="req_" + uuid.uuid4().hex[:20],
        protocol="anthropic_messages",
        model_requested="claude-sonnet-4-5",
        status="ok",
        user_id=uuid.uuid4(),
        key_id=uuid.uuid4(),
        group_id=uuid.uuid4(),
        funding=(FundingSource(wallet, "user_wallet", 16_836),),
        account_id=uuid.uuid4(),
        model_served="claude-sonnet-4-5-20250929",
        protocol_served="anthropic_messages",
        is_streamed=True,
        input_tokens=12,
        output_tokens=345,
        cache_read_tokens=20_000,
        cache_write_tokens=1_500,
        cost_micros=16_836,
        price_version="genai-prices@0.2.5:anthropic/claude-sonnet-4-5",
        latency_ms=812,
        ttfb_ms=240,
        client_family="claude_code",
        started_at=utc_now(),
        id=uuid.uuid4(),
    )
    spec = LedgerTransactionSpec(
        kind=TransactionKind.USAGE,
        postings=((wallet, -16_836), (expense, 16_836)),
        idempotency_key=f"usage:{hold}",
        memo="claude-sonnet-4-5 via gateway",
        metadata={"request_id": record.request_id, "model": "claude-sonnet-4-5"},
        hold_id=hold,
    )
    return record, spec


ROUND = 500


def rounds(n: int, step: Callable[[], object]) -> tuple[float, float]:
    """(best round, mean) in microseconds per call, over n calls in rounds of ROUND."""
    times = []
    for _ in range(max(n // ROUND, 1)):
        t = time.perf_counter()
        for _ in range(ROUND):
            step()
        times.append((time.perf_counter() - t) / ROUND * 1e6)
    return min(times), sum(times) / len(times)


async def main(n: int) -> None:
    record, spec = sample()
    assert decode(encode(record, spec)) == (record, spec)
    ints = list(range(40))
    calibration = rounds(n, lambda: json.dumps(ints))
    with tempfile.TemporaryDirectory() as directory:
        journal = SettlementJournal(Path(directory), fsync_interval=0)
        journal.open()
        per = rounds(n, lambda: journal.done(journal.append(record, spec)))
        await journal.close()
    size = len(encode(record, spec))
    print(f"journal append+done: best {per[0]:.2f} us, mean {per[1]:.2f} us ({size} bytes)")
    print(
        f"calibration (json.dumps of 40 ints): best {calibration[0]:.2f} us, mean {calibration[1]:.2f} us"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
