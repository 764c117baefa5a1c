"""Unit-of-work events the usage domain publishes (handled by higher domains, same transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spectra.usage.schemas import UsageRecordCreate


@dataclass(frozen=True, slots=True)
class UsageBatchRecorded:
    """A settlement batch's usage records were written (alerts check budgets on it)."""

    records: Sequence[UsageRecordCreate]
