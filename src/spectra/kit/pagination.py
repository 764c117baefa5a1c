"""Cursor pagination: `Page[T]` (what a service returns), `ListResource[T]` (the answer's
envelope) and opaque cursors over (created_at, id) or any sort key."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from spectra.errors import InvalidCursorError, InvalidError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    total: int | None = None
    """How many rows match in all, for offset-paged views (`db.listing.page_sorted`)."""
    offset: int = 0
    """Where this page starts in the sorted set (offset-paged views)."""


class ListResource(BaseModel, Generic[T]):
    """Every list answer: `{"items": [...], "next_cursor": "..." | null}`. Validates from a
    `Page` as it is (`ListResource[XRead].model_validate(page)`); null on the last page."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([str(v) if not isinstance(v, int | float | str | None) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError):
        raise InvalidCursorError(
            "The cursor is not one Spectra gave out; start from the first page."
        ) from None
    if not isinstance(values, list):
        raise InvalidCursorError(
            "The cursor is not one Spectra gave out; start from the first page."
        )
    return values


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise InvalidError("limit must be at least 1.", field="limit")
    return min(limit, MAX_LIMIT)
