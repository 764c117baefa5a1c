"""Sign-in through a provider: the redirect (state, nonce, PKCE), the callback (single-use
state bound to the browser, code exchange, ID token validation), just-in-time provisioning
and the session it opens, and sign-out (RP-initiated logout when the provider offers it)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from spectra.audit.actor import SYSTEM, Actor, user_actor
from spectra.db.changes import record_change
from spectra.db.serverkey import get_server_keys
from spectra.db.session import AnySession, Database, Session, session_scope
from spectra.kit.clock import utc_now
from spectra.kit.crypto import constant_time_equal, keyed_hash, random_token
from spectra.users import repository as users_repository
from spectra.users import service as users_service
from spectra.users.models import User
from spectra.users.service._common import audit_user
from spectra.users.sessions import hash_token

from . import oidc, repository
from .errors import (
    SsoDiscoveryError,
    SsoNotAllowedError,
    SsoProviderNotFoundError,
    SsoSignInError,
    SsoStateInvalidError,
)
from .models import SsoLogin, SsoProvider
from .service import unseal_secret

LOGIN_TTL = timedelta(minutes=10)
LOGIN_KEEP = timedelta(days=1)
"""How long an expired sign-in attempt is kept before housekeeping deletes it (for support)."""
PURGE_JOB = "users.sso.purge"
PURGE_SECONDS = 3600.0
STATE_COOKIE = "spectra_sso_state"
_RANK = {"owner": 4, "admin": 3, "billing": 2, "auditor": 2, "member": 1}


def _derived(purpose: str, state: str) -> str:
    """The PKCE verifier and the nonce of a sign-in, derived from its state: nothing to store."""
    return keyed_hash(get_server_keys().session_key, f"sso-{purpose}:{state}")


def _state_hash(state: str) -> str:
    return _derived("state", state)


async def _enabled(session: AnySession, name: str) -> SsoProvider:
    provider = await repository.find_provider_by_name(session, name)
    if provider is None or not provider.is_enabled:
        raise SsoProviderNotFoundError(f"No sign-in provider '{name[:100]}' is configured.")
    return provider


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    state: str
    """Also set as an HttpOnly cookie: the callback must come back to the same browser."""


async def begin_sign_in(
    session: Session,
    *,
    provider_name: str,
    redirect_uri: str,
    next_path: str,
    reauth: bool = False,
) -> Redirect:
    """Start a sign-in: record a pending attempt and return the provider's authorization URL.
    `reauth` (step-up) makes the provider ask for the login again (`prompt=login`, `max_age=0`)."""
    provider = await _enabled(session, provider_name)
    found = await oidc.discover(provider.issuer)
    state = random_token(32)
    now = utc_now()
    session.add(
        SsoLogin(
            provider_id=provider.id,
            state_hash=_state_hash(state),
            next_path=next_path[:500],
            created_at=now,
            expires_at=now + LOGIN_TTL,
            is_reauth=reauth,
        )
    )
    await session.flush()
    query = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "nonce": _derived("nonce", state),
        "code_challenge": oidc.pkce_challenge(_derived("pkce", state)),
        "code_challenge_method": "S256",
    }
    if reauth:
        query |= {"prompt": "login", "max_age": "0"}
    return Redirect(url=f"{found.authorization_endpoint}?{urlencode(query)}", state=state)


async def claim_login(
    session: Session, *, provider_name: str, state: str, browser_state: str | None
) -> SsoLogin:
    """Spend the pending attempt behind `state` (the caller commits at once, so a replayed
    callback finds it spent even when the sign-in then fails)."""
    refused = SsoStateInvalidError(
        "This sign-in link is unknown, used already or expired, or was started in another "
        "browser; start the sign-in again."
    )
    if not state or not browser_state or not constant_time_equal(state, browser_state):
        raise refused
    login = await repository.find_login_by_state(session, _state_hash(state))
    provider = await repository.find_provider_by_name(session, provider_name)
    if login is None or provider is None or login.provider_id != provider.id:
        raise refused
    if login.used_at is not None or login.expires_at <= utc_now():
        raise refused
    login.used_at = utc_now()
    await session.flush()
    return login


async def complete_sign_in(
    session: Session,
    *,
    login: SsoLogin,
    state: str,
    code: str,
    redirect_uri: str,
    client_ip: str | None,
    user_agent: str | None,
    default_ttl: timedelta,
) -> users_service.NewSession:
    """Exchange the code, validate the ID token, find or provision the user and open a console
    session. Writes `auth.sign_in` (via sso) and any provisioning events."""
    provider = await repository.get_provider(session, login.provider_id)
    if provider is None or not provider.is_enabled:
        raise SsoSignInError("This sign-in provider was removed or disabled.")
    found = await oidc.discover(provider.issuer)
    id_token = await oidc.exchange_code(
        found,
        code=code,
        redirect_uri=redirect_uri,
        client_id=provider.client_id,
        client_secret=unseal_secret(provider),
        verifier=_derived("pkce", state),
    )
    claims = await oidc.validate_id_token(
        found, id_token, client_id=provider.client_id, nonce=_derived("nonce", state)
    )
    if login.is_reauth:
        _check_fresh(claims, login)
    user = await provision(session, provider, claims)
    users_service.check_usable(user)
    ttl = (
        timedelta(minutes=provider.session_ttl_minutes)
        if provider.session_ttl_minutes
        else default_ttl
    )
    opened = await users_service.create_session(
        session, user=user, client_ip=client_ip, user_agent=user_agent, ttl=ttl, method="sso"
    )
    login.user_id = user.id
    login.user_session_id = opened.row.id
    login.subject = str(claims["sub"])[:300]
    await session.flush()
    actor = user_actor(user_id=user.id, email=user.email, role=user.role, via="sso")
    await audit_user(
        session,
        actor.with_request(None, client_ip),
        "auth.sign_in",
        user,
        session_id=str(opened.row.id),
        provider=provider.name,
    )
    return opened


REAUTH_SKEW_SECONDS = 30


def _check_fresh(claims: dict[str, Any], login: SsoLogin) -> None:
    """A step-up needs a login at the provider after it was asked for (OIDC `auth_time`)."""
    auth_time = claims.get("auth_time")
    started = login.created_at.timestamp() - REAUTH_SKEW_SECONDS
    if not isinstance(auth_time, int | float) or auth_time < started:
        raise SsoSignInError(
            "The provider did not ask for your login again, so this cannot confirm it is you; "
            "try again or ask an admin to check the provider's max_age support."
        )


async def provider_of_session(session: AnySession, *, session_token: str) -> str | None:
    """The name of the enabled provider a console session was opened through, else None."""
    row = await users_repository.find_session_by_hash(session, hash_token(session_token))
    login = None if row is None else await repository.find_login_by_session(session, row.id)
    if login is None:
        return None
    provider = await repository.get_provider(session, login.provider_id)
    return provider.name if provider is not None and provider.is_enabled else None


def _sso_actor(provider: SsoProvider) -> Actor:
    return replace(SYSTEM, label=f"sso:{provider.name}")


def _mapped(provider: SsoProvider, claims: dict[str, Any]) -> tuple[str | None, str | None]:
    """The Spectra group and role the token's groups claim maps to (highest role wins)."""
    if not provider.groups_claim:
        return None, None
    raw = claims.get(provider.groups_claim)
    if isinstance(raw, str):
        groups = {raw}
    elif isinstance(raw, list):
        groups = {str(g) for g in raw}
    else:
        groups = set()
    group: str | None = None
    role: str | None = None
    for mapping in provider.group_mappings:
        if mapping.get("claim") not in groups:
            continue
        group = group or mapping.get("group")
        candidate = mapping.get("role")
        if candidate and (role is None or _RANK[candidate] > _RANK[role]):
            role = candidate
    return group, role


def _check_domain(provider: SsoProvider, email: str) -> None:
    domain = email.rpartition("@")[2].lower()
    if provider.allowed_domains and domain not in provider.allowed_domains:
        raise SsoNotAllowedError(
            f"Accounts of {domain} may not sign in through {provider.name}; "
            f"allowed: {', '.join(provider.allowed_domains)}."
        )


async def provision(session: Session, provider: SsoProvider, claims: dict[str, Any]) -> User:
    """The Spectra user behind validated claims: the user an earlier sign-in with the same `sub`
    linked, else the local user with the same VERIFIED email (linked now), else a new user
    (just-in-time), placed and ranked by the group mapping. Refuses disallowed domains."""
    actor = _sso_actor(provider)
    group, role = _mapped(provider, claims)
    linked_id = await repository.find_linked_user_id(session, provider.id, str(claims["sub"]))
    user = await users_repository.get_user(session, linked_id) if linked_id else None
    if user is None:
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise SsoNotAllowedError(
                f"{provider.name} sent no email address; add the 'email' scope and claim."
            )
        verified = claims.get("email_verified", True if provider.trust_email else None)
        if verified is not True:
            raise SsoNotAllowedError(
                f"{provider.name} has not verified the email {email[:320]}; Spectra links and "
                "creates accounts only for verified addresses."
            )
        _check_domain(provider, email)
        user = await users_repository.find_user_by_email(session, email)
        if user is None:
            name = str(claims.get("name") or "")[:200]
            created = await users_service.create_user(
                session, actor, email=email, name=name, role=role or "member", group=group
            )
            return created
        await audit_user(session, actor, "sso.link", user, provider=provider.name)
    _check_domain(provider, user.email)
    if user.status == "invited":
        user.status = "active"
        await record_change(session, "users.status", user.id)
        await audit_user(session, actor, "users.activate", user, provider=provider.name)
    if role and user.role != role and user.role != "owner":
        user = await users_service.change_role(session, actor, user=user.id, role=role)
    if group and user.group.name != group:
        user = await users_service.move_group(session, actor, user=user.id, group=group)
    return user


async def logout_url(
    session: Session, *, session_token: str, post_logout_redirect_uri: str
) -> str | None:
    """Where to send the browser after ending a session opened by SSO: the provider's
    end_session_endpoint (RP-initiated logout) when its discovery has one, else None."""
    row = await users_repository.find_session_by_hash(session, hash_token(session_token))
    login = None if row is None else await repository.find_login_by_session(session, row.id)
    if login is None:
        return None
    provider = await repository.get_provider(session, login.provider_id)
    if provider is None:
        return None
    try:
        found = await oidc.discover(provider.issuer)
    except SsoDiscoveryError:
        return None
    if not found.end_session_endpoint:
        return None
    query = {"client_id": provider.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    return f"{found.end_session_endpoint}?{urlencode(query)}"


async def purge_spent_logins(db: Database, *, now: datetime | None = None) -> int:
    """Housekeeping: delete sign-in attempts a day past their expiry that hold nothing any more,
    so abandoned redirects (bots, closed tabs) don't pile up. Returns how many went."""
    async with session_scope(db) as session:
        return await repository.delete_spent_logins(session, (now or utc_now()) - LOGIN_KEEP)
