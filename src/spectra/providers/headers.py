"""Which headers cross the gateway, in each direction.

Request: everything the caller sent passes unchanged except hop-by-hop headers (and any
named in `Connection`), `host` and `content-length` (the client recomputes them), the
caller's own credentials, and `content-encoding` when the gateway decompressed the body.
Response: everything passes except hop-by-hop headers; `content-length` too when the
gateway changes the body (the OpenAI include_usage filter).
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
CALLER_CREDENTIALS = frozenset({"authorization", "x-api-key"})
_RECOMPUTED = frozenset({"host", "content-length"})


def _connection_tokens(headers: list[tuple[str, str]]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def forward_request_headers(
    headers: Iterable[tuple[str, str]], *, body_decompressed: bool = False
) -> list[tuple[str, str]]:
    """Return the caller's headers minus what must not reach the upstream, order and case kept."""
    pairs = list(headers)
    drop = HOP_BY_HOP | CALLER_CREDENTIALS | _RECOMPUTED | _connection_tokens(pairs)
    if body_decompressed:
        drop = drop | {"content-encoding"}
    return [
        (name, value)
        for name, value in pairs
        if (lower := name.lower()) not in drop and not lower.startswith("proxy-")
    ]


def forward_response_headers(
    headers: Iterable[tuple[str, str]], *, body_changed: bool = False
) -> list[tuple[str, str]]:
    """Return the upstream's response headers the gateway relays to the caller."""
    pairs = list(headers)
    drop = HOP_BY_HOP | _connection_tokens(pairs)
    if body_changed:
        drop = drop | {"content-length"}
    return [(name, value) for name, value in pairs if name.lower() not in drop]


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of `name` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None
