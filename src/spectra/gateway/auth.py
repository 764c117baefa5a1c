"""Caller auth: the member key from `Authorization: Bearer`, `x-api-key` or (Gemini's clients)
`x-goog-api-key`, checked against the
in-memory key cache (no database round trip; a key the cache has not seen yet is read from the
database once before it is refused — see `KeyCache.lookup_fresh`)."""

from __future__ import annotations

from spectra.keys.cache import KeyCache, KeyEntry
from spectra.keys.errors import InvalidApiKeyError

from .errors import MissingApiKeyError


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The secret the caller sent: `x-api-key` (or `x-goog-api-key`), else a Bearer token (the
    SDKs use either)."""
    bearer = api_key = None
    for name, value in headers:
        if name in (b"x-api-key", b"x-goog-api-key"):
            api_key = value.decode("latin-1").strip()
        elif name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                bearer = rest.strip()
    return api_key or bearer


async def authenticate(
    cache: KeyCache, headers: list[tuple[bytes, bytes]], client_ip: str | None
) -> KeyEntry:
    """The key entry for this request; raises the keys domain's typed refusal."""
    secret = presented_key(headers)
    if secret is None:
        raise MissingApiKeyError(
            "No API key was sent; send your Spectra key as 'x-api-key' or "
            "'Authorization: Bearer <key>'."
        )
    try:
        return cache.lookup(secret, client_ip)
    except InvalidApiKeyError:
        return await cache.lookup_fresh(secret, client_ip)
