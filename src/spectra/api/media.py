"""OpenAPI descriptions of answers that are not (only) one JSON document: streamed downloads
(CSV, JSON lines) and printable pages, each documented with its media type."""

from __future__ import annotations

from typing import Any

CSV = "text/csv"
NDJSON = "application/x-ndjson"
HTML = "text/html"


def alternatives(*media: str, description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route whose 200 answer may also be `media` (text, streamed)."""
    return {
        200: {
            "description": description,
            "content": {m: {"schema": {"type": "string"}} for m in media},
        }
    }


DOWNLOADS = alternatives(
    CSV, NDJSON, description="JSON, or with `format=csv|jsonl` a streamed download."
)
