"""Reading a gateway request: its id, client address and headers from the ASGI scope, and its
body (bounded, decompressed when the client compressed it)."""

from __future__ import annotations

import zlib

import zstandard
from starlette.types import Receive, Scope

from .errors import InvalidRequestBodyError, RequestTooLargeError, UnsupportedEncodingError


def request_id_of(scope: Scope) -> str:
    rid = scope.get("state", {}).get("request_id")
    return str(rid) if rid else "req_unknown"


def client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def header_pairs(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body, decompressed when `content-encoding` is gzip/deflate/zstd; both the
    bytes received and the decompressed body are bounded by `limit`."""
    length = header(scope, b"content-length")
    too_large = RequestTooLargeError(
        f"The request body is larger than this gateway accepts ({limit // (1024 * 1024)} MiB).",
        limit_bytes=limit,
    )
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequestBodyError("The client went away before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    encoding = (header(scope, b"content-encoding") or "").strip().lower()
    if encoding in ("", "identity"):
        return body, False
    try:
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflater = zlib.decompressobj(wbits=47)
            out = inflater.decompress(body, limit + 1)
        elif encoding == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(body)
            out = reader.read(limit + 1)
            reader.close()  # type: ignore[no-untyped-call]
        else:
            raise UnsupportedEncodingError(
                f"The body's content-encoding '{encoding}' is not supported; send it plain, "
                "gzip or zstd.",
                encoding=encoding,
            )
    except (zlib.error, zstandard.ZstdError) as exc:
        raise InvalidRequestBodyError(
            f"The request body could not be decompressed as {encoding}.", encoding=encoding
        ) from exc
    if len(out) > limit:
        raise too_large
    return out, True
