"""Fakes of the cloud providers that resell Claude and GPT, each in its documented wire format.

- `FakeBedrock`: the bedrock-runtime InvokeModel / InvokeModelWithResponseStream API. It
  verifies the SigV4 signature with botocore (recomputed from the signed headers and the
  request's own X-Amz-Date) and answers streams in AWS event-stream framing; errors carry
  `x-amzn-ErrorType`.
- `FakeVertex`: a Google OAuth token endpoint that checks the service-account JWT assertion
  (signature against the key's public half, audience) and issues bearer tokens, and the
  Vertex `:rawPredict` / `:streamRawPredict` endpoints (Claude) and the Google publisher
  models' `:generateContent` / `:streamGenerateContent` / `:countTokens` (Gemini, answered as
  `gemini.FakeGemini` does) that accept only those tokens.
- `FakeAzure`: Azure OpenAI deployments: `api-key`, `api-version`, the deployment in the path
  (chat) or in `model` (Responses), the content-filter error.
Each keeps the requests it took (`requests`) and a script of `Reply` / `Fail`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from google.auth import crypt, jwt

from .upstream import (
    Fail,
    Reply,
    anthropic_body,
    anthropic_events,
    chat_body,
    chat_events,
    responses_body,
    responses_events,
)

JsonDict = dict[str, Any]


def _event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (lengths + CRC), string headers, payload, CRC."""
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack("!B", len(raw_name)) + raw_name
        encoded += struct.pack("!BH", 7, len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


def bedrock_chunk(event: JsonDict) -> bytes:
    payload = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode()})
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return _event_message(headers, payload.encode())


def bedrock_exception(name: str, message: str) -> bytes:
    headers = {
        ":exception-type": name,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return _event_message(headers, json.dumps({"message": message}).encode())


BEDROCK_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limited": (429, "ThrottlingException", "Too many requests, please wait."),
    "overloaded": (
        503,
        "ServiceUnavailableException",
        "Bedrock is unable to process your request.",
    ),
    "auth_failed": (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    ),
    "permission_denied": (403, "AccessDeniedException", "You don't have access to the model."),
    "invalid_request": (400, "ValidationException", "messages: field required"),
    "context_too_long": (400, "ValidationException", "Input is too long for requested model."),
    "server_error": (500, "InternalServerException", "Internal server error"),
}


def _known_version(value: object, documented: str) -> bool:
    """The documented body version, or an Anthropic API date (what the anthropic SDK's
    Bedrock and Vertex clients send)."""
    return value == documented or (
        isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
    )


class LocalFake:
    """A scripted fake served on a local port (`async with`); `requests` keeps what it took."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.script: list[Reply | Fail] = []
        self.requests: list[Any] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        raise NotImplementedError

    def next(self) -> Reply | Fail:
        return self.script.pop(0) if self.script else self.default

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class FakeBedrock(LocalFake):
    def __init__(
        self,
        *,
        access_key_id: str = "AKIAFAKEFAKEFAKE0001",
        secret_access_key: str = "fake/secret/key/of/forty/characters/0001",
        region: str = "us-east-1",
        default: Reply | None = None,
    ) -> None:
        super().__init__(default)
        self.keys = Credentials(access_key_id, secret_access_key)
        self.region = region
        self.signatures_checked = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/model/{model}/{action}", self._invoke)
        return app

    def _signature_ok(self, request: web.Request, body: bytes) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return False
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
        access_key, date, region, service, _ = fields["Credential"].split("/")
        if (access_key, region, service) != (self.keys.access_key, self.region, "bedrock"):
            return False
        signed = fields["SignedHeaders"].split(";")
        headers = {name: request.headers[name] for name in signed if name != "host"}
        url = f"http://{request.headers['Host']}{request.raw_path}"
        aws = AWSRequest(method=request.method, url=url, data=body, headers=headers)
        aws.context["timestamp"] = request.headers["X-Amz-Date"]
        signer = SigV4Auth(self.keys, "bedrock", self.region)
        expected = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
        self.signatures_checked += 1
        return bool(expected == fields["Signature"] and date == aws.context["timestamp"][:8])

    async def _invoke(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.raw_path, dict(request.headers), body))
        if not self._signature_ok(request, body):
            return self._error("auth_failed")
        data = json.loads(body)
        if (
            not _known_version(data.get("anthropic_version"), "bedrock-2023-05-31")
            or "model" in data
        ):
            return self._error("invalid_request")
        behaviour = self.next()
        if isinstance(behaviour, Fail):
            return self._error(behaviour.kind)
        model = request.match_info["model"]
        if request.match_info["action"] == "invoke":
            return web.Response(
                body=anthropic_body(behaviour, model), content_type="application/json"
            )
        response = web.StreamResponse(
            headers={"content-type": "application/vnd.amazon.eventstream"}
        )
        await response.prepare(request)
        for event in anthropic_events(behaviour, model):
            data = json.loads(event.split(b"data: ", 1)[1])
            await response.write(bedrock_chunk(data))
        await response.write_eof()
        return response

    def _error(self, kind: str) -> web.Response:
        status, name, message = BEDROCK_ERRORS[kind]
        return web.json_response(
            {"message": message},
            status=status,
            headers={
                "x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            },
        )


class FakeVertex(LocalFake):
    """Needs the service account's public key PEM (`public_pem`) to check assertions."""

    def __init__(
        self, *, public_pem: bytes, project: str = "acme-ai", default: Reply | None = None
    ) -> None:
        super().__init__(default)
        self.public_pem = public_pem
        self.project = project
        self.issued: set[str] = set()
        self.token_requests = 0
        self.signatures: set[str] = set()
        """The Gemini thought signatures it has handed out."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post(
            "/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{call}",
            self._predict,
        )
        app.router.add_post(
            "/v1/projects/{project}/locations/{region}/publishers/google/models/{call}",
            self._generate,
        )
        return app

    def _refusal(self, request: web.Request) -> web.Response | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.issued:
            return _google_error(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
            )
        if request.match_info["project"] != self.project:
            return _google_error(403, "PERMISSION_DENIED", "Permission denied on resource project.")
        return None

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        from .gemini import answer  # gemini.py builds on this module

        body = await request.read()
        self.requests.append((request.raw_path, dict(request.headers), body))
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return await answer(self, self.signatures, request, json.loads(body))

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = parse_qs((await request.read()).decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = jwt.decode(  # type: ignore[no-untyped-call]
                form["assertion"][0],
                certs=self.public_pem.decode(),
                # google-auth addresses the assertion to Google's token endpoint by name
                audience=["https://oauth2.googleapis.com/token", f"{self.url}/token"],
            )
        except ValueError as exc:
            return web.json_response(
                {"error": "invalid_grant", "error_description": str(exc)}, status=400
            )
        if "cloud-platform" not in str(claims.get("scope")):
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = f"ya29.fake-{len(self.issued) + 1}"
        self.issued.add(token)
        return web.json_response(
            {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        )

    async def _predict(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.raw_path, dict(request.headers), body))
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        data = json.loads(body)
        if request.match_info["call"] == "count-tokens:rawPredict" and "model" in data:
            return web.json_response({"input_tokens": len(json.dumps(data["messages"])) // 4})
        if (
            not _known_version(data.get("anthropic_version"), "vertex-2023-10-16")
            or "model" in data
        ):
            return _google_error(400, "INVALID_ARGUMENT", "anthropic_version: field required")
        behaviour = self.next()
        if isinstance(behaviour, Fail):
            return _google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model.",
            )
        model, _, method = request.match_info["call"].partition(":")
        if method == "rawPredict":
            return web.Response(
                body=anthropic_body(behaviour, model), content_type="application/json"
            )
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in anthropic_events(behaviour, model):
            await response.write(event)
        await response.write_eof()
        return response


def _google_error(status: int, name: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": status, "message": message, "status": name}}, status=status
    )


def service_account_info(token_uri: str, *, project: str = "acme-ai") -> tuple[JsonDict, bytes]:
    """A new service-account key (RSA) pointing at `token_uri`, and its public key PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private,
        "client_email": f"spectra@{project}.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
    }
    # the key reads back as google-auth reads it
    crypt.RSASigner.from_service_account_info(info)  # type: ignore[no-untyped-call]
    return info, public


class FakeAzure(LocalFake):
    def __init__(
        self,
        *,
        api_key: str = "azure-fake-key-0123456789abcdef",
        deployments: dict[str, str] | None = None,
        default: Reply | None = None,
    ) -> None:
        super().__init__(default)
        self.api_key = api_key
        self.deployments = deployments or {"gpt5-prod": "gpt-5"}
        """Deployment name -> the model it runs."""
        self.api_versions: list[str] = []
        self.entra_tokens: set[str] = set()
        """Bearer tokens it accepts instead of the api-key (a `FakeEntra`'s `issued`)."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        app.router.add_post("/openai/responses", self._responses)
        app.router.add_get("/openai/models", self._models)
        return app

    async def _models(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        models = [{"id": m, "object": "model"} for m in sorted(set(self.deployments.values()))]
        return web.json_response({"object": "list", "data": models})

    def _refusal(self, request: web.Request) -> web.Response | None:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if request.headers.get("api-key") != self.api_key and bearer not in self.entra_tokens:
            return _azure_error(
                401, "401", "Access denied due to invalid subscription key or wrong API endpoint."
            )
        version = request.query.get("api-version")
        if not version:
            return _azure_error(404, "404", "Resource not found")
        self.api_versions.append(version)
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.path_qs, dict(request.headers), body))
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        deployment = request.match_info["deployment"]
        if deployment not in self.deployments:
            return _azure_error(
                404, "DeploymentNotFound", "The API deployment for this resource does not exist."
            )
        return await self._answer(
            self.deployments[deployment], chat=True, request=request, body=json.loads(body)
        )

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.path_qs, dict(request.headers), body))
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        deployment = json.loads(body).get("model")
        if deployment not in self.deployments:
            return _azure_error(
                404, "DeploymentNotFound", "The API deployment for this resource does not exist."
            )
        return await self._answer(
            self.deployments[deployment], chat=False, request=request, body=json.loads(body)
        )

    async def _answer(
        self, model: str, *, chat: bool, request: web.Request, body: JsonDict
    ) -> web.StreamResponse:
        """The answer, streamed (SSE) when the body asks, as Azure does for both APIs."""
        behaviour = self.next()
        if isinstance(behaviour, Fail):
            if behaviour.kind == "content_filter":
                return _azure_error(
                    400,
                    "content_filter",
                    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
                )
            status = {"rate_limited": 429, "server_error": 500}.get(behaviour.kind, 400)
            return _azure_error(
                status,
                str(status),
                "Requests to the ChatCompletions_Create Operation have exceeded call rate limit.",
                retry_after="7",
            )
        if body.get("stream") is True:
            options = body.get("stream_options") or {}
            events = (
                chat_events(behaviour, model, include_usage=options.get("include_usage") is True)
                if chat
                else responses_events(behaviour, model)
            )
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            for event in events:
                await response.write(event)
            await response.write_eof()
            return response
        answer = chat_body(behaviour, model) if chat else responses_body(behaviour, model)
        return web.Response(body=answer, content_type="application/json")


def _azure_error(
    status: int, code: str, message: str, retry_after: str | None = None
) -> web.Response:
    headers = {"retry-after": retry_after} if retry_after else {}
    error: JsonDict = {"code": code, "message": message, "param": None, "type": None}
    if code == "content_filter":
        error["innererror"] = {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {"hate": {"filtered": True, "severity": "high"}},
        }
    return web.json_response({"error": error}, status=status, headers=headers)
