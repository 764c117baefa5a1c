"""The OpenID Connect client side: discovery, the key set (refetched on an unknown `kid`, which
is how providers rotate keys, at most once a minute so forged `kid`s cannot make us hammer the
provider), PKCE, the code exchange and ID token validation by joserfc.

Network calls go through one httpx client; tests point `use_transport` at a fake provider that
speaks the documented wire format, or at a real `oidc-provider`.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import errors as jose_errors
from joserfc import jwt
from joserfc.jwk import KeySet

from spectra.kit.clock import utc_now

from .errors import SsoDiscoveryError, SsoTokenExchangeError, SsoTokenInvalidError

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
DISCOVERY_TTL = 3600.0
KEYS_REFETCH_SECONDS = 60.0
"""A key set fetched this recently already holds the provider's current keys: not refetched."""
LEEWAY_SECONDS = 60
TIMEOUT = httpx.Timeout(10.0)

_transport: httpx.AsyncBaseTransport | None = None


def use_transport(transport: httpx.AsyncBaseTransport | None) -> None:
    """Send provider requests through `transport` (tests); None restores the network."""
    global _transport
    _transport = transport
    _cache.clear()


@dataclass(slots=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    code_challenge_methods: list[str] | None
    fetched_at: float
    keys: KeySet | None = None
    key_ids: list[str] = field(default_factory=list)
    keys_fetched_at: float = 0.0


_cache: dict[str, Discovery] = {}


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=_transport, timeout=TIMEOUT, follow_redirects=False)


async def _get_json(url: str, what: str) -> dict[str, Any]:
    try:
        async with _client() as client:
            response = await client.get(url, headers={"accept": "application/json"})
    except httpx.HTTPError as exc:
        raise SsoDiscoveryError(f"Could not fetch the provider's {what} at {url}: {exc}.") from exc
    if response.status_code != 200:
        raise SsoDiscoveryError(
            f"The provider's {what} at {url} answered HTTP {response.status_code}."
        )
    try:
        body = response.json()
    except ValueError:
        raise SsoDiscoveryError(f"The provider's {what} at {url} is not JSON.") from None
    if not isinstance(body, dict):
        raise SsoDiscoveryError(f"The provider's {what} at {url} is not a JSON object.")
    return body


async def discover(issuer: str, *, refresh: bool = False) -> Discovery:
    """The provider's discovery document (cached an hour), checked against the configured issuer."""
    cached = _cache.get(issuer)
    if cached is not None and not refresh and time.monotonic() - cached.fetched_at < DISCOVERY_TTL:
        return cached
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    doc = await _get_json(url, "discovery document")
    if doc.get("issuer") != issuer:
        raise SsoDiscoveryError(
            f"The discovery document names the issuer {str(doc.get('issuer'))[:200]!r}, "
            f"not {issuer!r}; set the issuer exactly as the provider writes it."
        )
    try:
        found = Discovery(
            issuer=issuer,
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
            end_session_endpoint=doc.get("end_session_endpoint"),
            code_challenge_methods=doc.get("code_challenge_methods_supported"),
            fetched_at=time.monotonic(),
        )
    except KeyError as exc:
        raise SsoDiscoveryError(f"The discovery document at {url} has no {exc.args[0]}.") from None
    await _load_keys(found)
    _cache[issuer] = found
    return found


async def _load_keys(found: Discovery) -> None:
    body = await _get_json(found.jwks_uri, "key set")
    try:
        found.keys = KeySet.import_key_set(body)  # type: ignore[arg-type]
    except (jose_errors.JoseError, ValueError, TypeError, KeyError) as exc:
        raise SsoDiscoveryError(f"The provider's key set at {found.jwks_uri} is unusable.") from exc
    found.key_ids = [str(key.kid) for key in found.keys.keys if key.kid]
    found.keys_fetched_at = time.monotonic()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def exchange_code(
    found: Discovery,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
    verifier: str,
) -> str:
    """Trade the authorization code for tokens (client_secret_basic); returns the ID token."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    try:
        async with _client() as client:
            response = await client.post(
                found.token_endpoint, data=form, auth=httpx.BasicAuth(client_id, client_secret)
            )
    except httpx.HTTPError as exc:
        raise SsoTokenExchangeError(
            f"The provider's token endpoint could not be reached: {exc}."
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        detail = f" ({error})" if error else ""
        raise SsoTokenExchangeError(
            f"The provider refused the sign-in code{detail}; it may have been used already "
            "or have expired. Start the sign-in again."
        )
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise SsoTokenExchangeError("The provider's answer has no ID token.")
    return id_token


async def validate_id_token(
    found: Discovery, id_token: str, *, client_id: str, nonce: str
) -> dict[str, Any]:
    """The ID token's claims after joserfc checked signature, issuer, audience, expiry and nonce.

    An unknown `kid` refetches the key set once, unless it was fetched within
    `KEYS_REFETCH_SECONDS`: the provider may have rotated its keys."""
    for attempt in (0, 1):
        assert found.keys is not None
        try:
            token = jwt.decode(id_token, found.keys, algorithms=ALGORITHMS)
            break
        except jose_errors.InvalidKeyIdError:
            fresh = time.monotonic() - found.keys_fetched_at < KEYS_REFETCH_SECONDS
            if attempt or fresh:
                raise SsoTokenInvalidError(
                    "The ID token was signed with a key the provider does not publish."
                ) from None
            await _load_keys(found)
        except jose_errors.JoseError as exc:
            raise SsoTokenInvalidError(
                "The ID token's signature is not valid; it was refused."
            ) from exc
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(utc_now().timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": found.issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
        azp={"essential": False, "value": client_id},
    )
    try:
        registry.validate(token.claims)
    except jose_errors.ExpiredTokenError:
        raise SsoTokenInvalidError("The ID token has expired; start the sign-in again.") from None
    except jose_errors.InvalidClaimError as exc:
        claim = getattr(exc, "claim", "")
        what = {
            "aud": "was issued for another application (wrong audience)",
            "iss": "was issued by another provider",
            "nonce": "does not belong to this sign-in (nonce mismatch)",
            "azp": "was issued for another application (azp)",
        }.get(claim, f"has an invalid {claim} claim")
        raise SsoTokenInvalidError(f"The ID token {what}; it was refused.") from None
    except jose_errors.JoseError as exc:
        raise SsoTokenInvalidError(f"The ID token was refused: {exc.description}.") from None
    return dict(token.claims)
