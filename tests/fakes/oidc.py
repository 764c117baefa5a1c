"""A fake OpenID provider for HTTP-level sign-in tests, speaking the documented wire format
(OpenID Connect Discovery 1.0, RFC 7517 JWKS, RFC 6749 token endpoint with RFC 7636 PKCE).

`authorize(url)` plays the provider's login and consent: it checks the authorization request
and returns the code the provider would send back. The tests then tamper with what the token
endpoint issues (`next_claims`, `sign_with`, `tamper`) to check each refusal.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ISSUER = "https://idp.example.test"
CLIENT_ID = "spectra-test"
CLIENT_SECRET = "idp-client-secret-1234"


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class FakeIdp:
    account: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "user-1",
            "email": "ada@example.com",
            "email_verified": True,
            "name": "Ada",
            "groups": ["spectra-admins"],
        }
    )
    keys: list[RSAKey] = field(default_factory=lambda: [_key("k1")])
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_claims: dict[str, Any] = field(default_factory=dict)
    """Claims overriding (or, with value None, removing) those of the next ID token."""
    sign_with: RSAKey | None = None
    """Sign the next ID token with this key instead of the published one."""
    tamper: bool = False
    """Change the next ID token's payload after signing."""
    end_session: bool = True
    jwks_fetches: int = 0

    def rotate(self) -> RSAKey:
        """Publish a new signing key (first) and sign with it from now on."""
        key = _key(f"k{len(self.keys) + 1}")
        self.keys.insert(0, key)
        return key

    def authorize(self, url: str) -> tuple[str, str]:
        """The authorization request's checks and the code it yields: (code, state)."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ISSUER}/authorize"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["response_type"] == "code"
        assert query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256"
        assert "openid" in query["scope"].split()
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**query, "used": False}
        return code, query["state"]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/token", self._token, methods=["POST"]),
            ]
        )

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app())

    async def _discovery(self, request: Request) -> JSONResponse:
        doc: dict[str, Any] = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }
        if self.end_session:
            doc["end_session_endpoint"] = f"{ISSUER}/session/end"
        return JSONResponse(doc)

    async def _jwks(self, request: Request) -> JSONResponse:
        self.jwks_fetches += 1
        return JSONResponse(KeySet(list(self.keys)).as_dict(private=False))

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        auth = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.get(str(form.get("code")))
        if grant is None or grant["used"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        grant["used"] = True
        verifier = str(form.get("code_verifier"))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.decode().rstrip("=") != grant["code_challenge"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **self.account,
        }
        for name, value in self.next_claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.sign_with or self.keys[0]
        token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        if self.tamper:
            head, body, sig = token.split(".")
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            forged = payload.replace(b'"spectra-admins"', b'"spectra-owners"').replace(
                b"user-1", b"user-2"
            )
            token = ".".join([head, base64.urlsafe_b64encode(forged).decode().rstrip("="), sig])
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": token})
