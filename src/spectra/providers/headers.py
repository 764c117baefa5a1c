"""Which headers and query parameters cross the gateway, in each direction: by ALLOWLIST.

Request: only what the real clients (Claude Code, Codex CLI, the official SDKs; see
tests/fixtures/client-recordings) send and need passes, per upstream protocol. Never cookies,
credentials (the account's are added), a caller-chosen provider organisation or project, a
client idempotency key (the upstream would replay another member's answer), forwarding
headers or hop-by-hop headers. `anthropic-beta` keeps only the beta features whose cost the
gateway prices (`ANTHROPIC_BETAS`); `accept-encoding` only the codings the usage tap can read.
Query: `beta=true` on Anthropic paths, nothing else.
Response: only the content headers and the retry hints clients act on; never the pool
account's organisation, rate-limit state, cookies, request ids or edge-network headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl

_COMMON_REQUEST = frozenset({"accept", "content-type", "user-agent"})
ANTHROPIC_REQUEST = _COMMON_REQUEST | {
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "x-app",
    "x-claude-code-session-id",
}
OPENAI_REQUEST = _COMMON_REQUEST | {
    "openai-beta",
    "originator",
    "version",
    "session-id",
    "session_id",
    "thread-id",
    "conversation_id",
    "x-client-request-id",
    "x-codex-beta-features",
    "x-codex-turn-metadata",
    "x-codex-window-id",
    "x-openai-internal-codex-responses-lite",
}
_REQUEST_PREFIXES = ("x-stainless-",)
"""The official SDKs' platform and retry headers (`x-stainless-os`, `-retry-count`, ...)."""

ANTHROPIC_BETAS = frozenset(
    {
        "advanced-tool-use",
        "claude-code",
        "computer-use",
        "context-management",
        "effort",
        "extended-cache-ttl",
        "fine-grained-tool-streaming",
        "interleaved-thinking",
        "mid-conversation-system",
        "mid-conversation-tool-changes",
        "output-128k",
        "per-turn-control",
        "prompt-caching",
        "prompt-caching-scope",
        "structured-outputs",
        "thinking-token-count",
        "token-counting",
        "token-efficient-tools",
    }
)
"""`anthropic-beta` features (name without its date) that change only what the request's
tokens buy, so token prices cover them. `context-1m` passes only where the model's price has
long-context tiers (`long_context`). Any other value is dropped: an unknown feature could be
billed in a way the price table does not know (fast mode, per-hour code execution, files stored
in the pool's account). `extended-cache-ttl` passes: 1-hour cache writes are metered by
lifetime and charged at their own price (usage.pricing). `advanced-tool-use` (tool search, `defer_loading`,
tool input examples; Claude Code 2.1.33x sends `defer_loading` tools) is token-priced; its
programmatic tool calling needs the code-execution tool, whose own beta stays dropped.
`mid-conversation-tool-changes` (`tool_addition` / `tool_removal` blocks in a `role: "system"`
message) and `per-turn-control` (a system message's own `output_config`, e.g. the next turn's
effort) pass: Claude Code 2.1.33x sends both with bodies that use them, which Anthropic refuses
without the beta, and they change only which tools and how much thinking the tokens buy."""
LONG_CONTEXT_BETA = "context-1m"
_BETA_DATE = re.compile(r"-\d{4}-?\d{2}-?\d{2}$")

DECODABLE_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "zstd", "identity"})
"""What the stream tap can decompress (streaming._Decoder): a response in any other coding
could not be metered."""

RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "content-length",
        "cache-control",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
    }
)


def _beta_family(value: str) -> str:
    return _BETA_DATE.sub("", value.strip().lower())


def anthropic_betas(value: str, *, long_context: bool) -> str | None:
    """The `anthropic-beta` list with only the priced features, order kept; None if empty."""
    allowed = ANTHROPIC_BETAS | {LONG_CONTEXT_BETA} if long_context else ANTHROPIC_BETAS
    kept = [v.strip() for v in value.split(",") if _beta_family(v) in allowed]
    return ",".join(kept) if kept else None


def _accept_encoding(value: str) -> str | None:
    kept = [
        part.strip()
        for part in value.split(",")
        if part.split(";", 1)[0].strip().lower() in DECODABLE_CODINGS
    ]
    return ", ".join(kept) if kept else None


def forward_request_headers(
    headers: Iterable[tuple[str, str]],
    allowed: frozenset[str],
    *,
    body_decompressed: bool = False,
    long_context: bool = False,
) -> list[tuple[str, str]]:
    """The caller's headers that `allowed` (plus the SDK prefixes) lets through, order and
    case kept; `anthropic-beta` and `accept-encoding` filtered by value."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        kept: str | None = value
        if lower == "anthropic-beta" and lower in allowed:
            kept = anthropic_betas(value, long_context=long_context)
        elif lower == "accept-encoding":
            kept = _accept_encoding(value)
        elif lower == "content-encoding":
            kept = None if body_decompressed else value
        elif lower not in allowed and not lower.startswith(_REQUEST_PREFIXES):
            kept = None
        if kept is not None:
            out.append((name, kept))
    return out


def forward_query(query: str, *, anthropic: bool) -> str:
    """The query string to send upstream: `beta=true` on Anthropic paths, nothing else."""
    if not anthropic or not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return "beta=true" if ("beta", "true") in pairs else ""


def forward_response_headers(
    headers: Iterable[tuple[str, str]], *, body_changed: bool = False
) -> list[tuple[str, str]]:
    """The upstream's response headers relayed to the caller (`RESPONSE_HEADERS` only)."""
    return [
        (name, value)
        for name, value in headers
        if (lower := name.lower()) in RESPONSE_HEADERS
        and not (body_changed and lower == "content-length")
    ]


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of `name` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None
