"""Anthropic models on AWS Bedrock: InvokeModel / InvokeModelWithResponseStream.

The body is Anthropic's Messages body without `model` and `stream`, with
`anthropic_version: bedrock-2023-05-31` (and `anthropic-beta` headers as `anthropic_beta`).
Requests are signed with SigV4 by botocore's signer (service `bedrock`). A streamed answer
comes in AWS event-stream framing (decoded here, see `EventStreamToSSE`): each `chunk` event carries
one Anthropic stream event (base64 in `bytes`), re-emitted here as the SSE the rest of the
gateway reads; an exception message becomes an Anthropic `error` event. Errors outside a
stream name their type in `x-amzn-ErrorType` (see `cloud_errors.py`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .cloud_errors import AWS_ANTHROPIC_TYPES

if TYPE_CHECKING:
    from botocore.auth import SigV4Auth

# botocore (~0.3 s to import) loads with the first signed request, not with every process that
# imports the providers (a local `spectra` command never signs one).

ANTHROPIC_VERSION = "bedrock-2023-05-31"
SERVICE = "bedrock"
MODEL_IDS: dict[str, str] = {
    "claude-opus-4-5": "anthropic.claude-opus-4-5-20251101-v1:0",
    "claude-opus-4-1": "anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-opus-4": "anthropic.claude-opus-4-20250514-v1:0",
    "claude-sonnet-4-5": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-sonnet-4": "anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-haiku-4-5": "anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-3-7-sonnet": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "claude-3-5-haiku": "anthropic.claude-3-5-haiku-20241022-v1:0",
}
"""Public model name -> Bedrock model id. An account's aliases override it (for example an
inference profile such as `us.anthropic.claude-sonnet-4-5-20250929-v1:0`)."""
_GEOGRAPHY = {"us": "us", "eu": "eu", "ap": "apac", "ca": "us", "sa": "us"}


@dataclass(frozen=True, slots=True)
class AwsKeys:
    """An IAM access key (and the session token of temporary credentials)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    @classmethod
    def from_json(cls, text: str) -> AwsKeys:
        """Read the stored credential: `{"access_key_id", "secret_access_key", "session_token"?}`."""
        raw = json.loads(text)
        token = raw.get("session_token")
        return cls(str(raw["access_key_id"]), str(raw["secret_access_key"]), token or None)

    def to_json(self) -> str:
        data = {"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key}
        if self.session_token:
            data["session_token"] = self.session_token
        return json.dumps(data)


@functools.lru_cache(maxsize=1024)
def keys_of(stored: str) -> AwsKeys:
    """The keys of a stored credential, parsed once per credential (the hot path signs every
    request with them)."""
    return AwsKeys.from_json(stored)


@functools.lru_cache(maxsize=1024)
def _signer(keys: AwsKeys, region: str) -> SigV4Auth:
    """One botocore signer per key and region, reused by every request signed with them."""
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    credentials = Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
    return SigV4Auth(credentials, SERVICE, region)


def model_id(model: str, *, region: str, cross_region: bool = False) -> str:
    """The Bedrock model id of a public model name (unknown names pass as given). With
    `cross_region`, the geography's inference profile (`us.`, `eu.`, `apac.`)."""
    base = MODEL_IDS.get(model, model)
    if cross_region and base.startswith("anthropic."):
        return f"{_GEOGRAPHY.get(region.split('-')[0], 'us')}.{base}"
    return base


def endpoint(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


def invoke_url(base_url: str, model: str, *, stream: bool) -> str:
    action = "invoke-with-response-stream" if stream else "invoke"
    return f"{base_url.rstrip('/')}/model/{quote(model, safe='')}/{action}"


def request_body(body: dict[str, Any], *, betas: list[str] | None = None) -> bytes:
    """A Messages body as InvokeModel takes it."""
    out = {k: v for k, v in body.items() if k not in ("model", "stream")}
    out["anthropic_version"] = ANTHROPIC_VERSION
    if betas:
        out["anthropic_beta"] = betas
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()


def signed_headers(
    method: str, url: str, body: bytes, *, keys: AwsKeys, region: str, stream: bool
) -> list[tuple[str, str]]:
    """The headers of a SigV4-signed Bedrock runtime request (Authorization, X-Amz-Date,
    X-Amz-Security-Token for temporary credentials, content and accept types)."""
    from botocore.awsrequest import AWSRequest

    accept = "application/vnd.amazon.eventstream" if stream else "application/json"
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={"Content-Type": "application/json", "Accept": accept},
    )
    _signer(keys, region).add_auth(request)
    return [(str(k), str(v)) for k, v in request.headers.items()]


class EventStreamError(ValueError):
    """Bytes that are not AWS event-stream framing (bad length or checksum)."""


_PRELUDE = struct.Struct("!III")
_MAX_MESSAGE = 16 * 1024 * 1024
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
"""Header value sizes by type (true, false, byte, short, int, long, timestamp, uuid); 6 (bytes)
and 7 (string) carry a two-byte length."""


class EventStreamToSSE:
    """Bedrock's event-stream bytes in (split anywhere), Anthropic SSE bytes out.

    The framing (application/vnd.amazon.eventstream): a prelude of total length, headers length
    and the prelude's CRC32, the headers, the payload, the message's CRC32. Decoded here (both
    checksums checked) rather than by botocore's `EventStreamBuffer`, which costs ~50 µs per
    event in pure Python: most of a streamed Bedrock request's extra CPU (bench/RESULTS.md);
    `tests/providers/test_clouds.py` checks both agree."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk if self._pending else chunk
        out: list[bytes] = []
        pos = 0
        while len(data) - pos >= _PRELUDE.size:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(data, pos)
            if binascii.crc32(data[pos : pos + 8]) != prelude_crc:
                raise EventStreamError("event-stream prelude checksum mismatch")
            if not 16 + headers_length <= total <= _MAX_MESSAGE:
                raise EventStreamError(f"event-stream message of {total} bytes")
            if len(data) - pos < total:
                break
            end = pos + total
            (crc,) = struct.unpack_from("!I", data, end - 4)
            if binascii.crc32(data[pos : end - 4]) != crc:
                raise EventStreamError("event-stream message checksum mismatch")
            start = pos + _PRELUDE.size
            headers = _headers(data, start, start + headers_length)
            out.append(_sse(headers, data[start + headers_length : end - 4]))
            pos = end
        self._pending = data[pos:]
        return b"".join(out)


def _headers(data: bytes, pos: int, end: int) -> dict[str, Any]:
    """String headers by name (other types are skipped: Bedrock sends only strings)."""
    headers: dict[str, Any] = {}
    while pos < end:
        size = data[pos]
        name = data[pos + 1 : pos + 1 + size].decode()
        kind = data[pos + 1 + size]
        pos += 2 + size
        if kind in (6, 7):
            (length,) = struct.unpack_from("!H", data, pos)
            if kind == 7:
                headers[name] = data[pos + 2 : pos + 2 + length].decode()
            pos += 2 + length
        elif kind in _FIXED:
            pos += _FIXED[kind]
        else:
            raise EventStreamError(f"event-stream header of unknown type {kind}")
    if pos != end:
        raise EventStreamError("event-stream headers overrun their length")
    return headers


def _sse(headers: dict[str, Any], raw: bytes) -> bytes:
    payload = json.loads(raw or b"{}")
    if headers.get(":message-type") == "event" and headers.get(":event-type") == "chunk":
        data = base64.b64decode(payload.get("bytes") or b"")
        kind = json.loads(data).get("type")  # the event as Anthropic sent it, not re-encoded
        return b"event: " + str(kind).encode() + b"\ndata: " + data.strip() + b"\n\n"
    if headers.get(":message-type") in ("exception", "error"):
        name = headers.get(":exception-type") or headers.get(":error-code") or ""
        kind = AWS_ANTHROPIC_TYPES.get(name.lower(), "api_error")
        error = {"type": "error", "error": {"type": kind, "message": payload.get("message", "")}}
        return f"event: error\ndata: {json.dumps(error)}\n\n".encode()
    return b""
