"""A fake Microsoft Entra ID token endpoint: the v2.0 client-credentials grant
(`POST /{tenant}/oauth2/v2.0/token`, form-encoded `grant_type=client_credentials`,
`client_id`, `client_secret`, `scope`), answered as Entra does (`token_type`, `expires_in`,
`access_token`; `invalid_client` / AADSTS7000215 for a wrong secret). Served over HTTPS on
127.0.0.1 with a self-signed certificate (`ca_file`), since azure-identity talks to https
authorities only. `issued` holds the tokens it gave out (a `FakeAzure` accepts those)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import ssl
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0b6c5a3e-1d2f-4e5a-9b8c-7d6e5f4a3b21"
SECRET = "fake~entra~secret~0123456789abcdef"
SCOPE = "https://cognitiveservices.azure.com/.default"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "entra.pem", directory / "entra.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class FakeEntra:
    def __init__(
        self,
        *,
        tenant_id: str = TENANT,
        client_id: str = CLIENT,
        client_secret: str = SECRET,
        expires_in: int = 3599,
    ) -> None:
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.expires_in = expires_in
        self.issued: set[str] = set()
        self.token_requests = 0
        self.url = ""
        self.ca_file = Path()
        self._dir = tempfile.TemporaryDirectory(prefix="fake-entra-")
        self._runner: web.AppRunner | None = None

    def credential(self, **changes: str) -> dict[str, str]:
        """The client credentials as an azure_openai account takes them."""
        fields = {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "authority": self.url,
        }
        return fields | changes

    async def __aenter__(self) -> Self:
        cert_file, key_file = _self_signed(Path(self._dir.name))
        self.ca_file = cert_file
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context).start()
        self.url = f"https://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._dir.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs((await request.read()).decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type", "AADSTS70003")
        if request.match_info["tenant"] != self.tenant_id:
            return _error(400, "invalid_request", "AADSTS90002: Tenant not found.")
        if form.get("client_id") != self.client_id:
            return _error(400, "unauthorized_client", "AADSTS700016: Application not found.")
        if form.get("client_secret") != self.client_secret:
            return _error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope") != SCOPE:
            return _error(400, "invalid_scope", "AADSTS70011: The provided scope is not valid.")
        token = f"eyJ0eXAiOiJKV1QifQ.fake-entra-{secrets.token_hex(8)}"
        self.issued.add(token)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": token,
            }
        )


def _error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)
