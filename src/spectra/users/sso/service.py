"""Admin actions on SSO providers: add, list, show, test, remove. Each change writes its audit
event in the same transaction; the client secret is sealed under the credential subkey."""

from __future__ import annotations

import contextlib
import ipaddress
import uuid
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.serverkey import get_server_keys
from spectra.db.session import AnySession, Session
from spectra.kit.ids import uuid7
from spectra.kit.pagination import Page
from spectra.users import repository as users_repository
from spectra.users.permissions import Permission, Role, require

from . import oidc, repository
from .errors import (
    SsoDiscoveryError,
    SsoProviderNameTakenError,
    SsoProviderNotFoundError,
    SsoSettingInvalidError,
)
from .models import SsoProvider
from .schemas import GroupMapping, ProviderCreate, ProviderTestRead, ProviderUpdate, snapshot


def seal_secret(provider_id: uuid.UUID, secret: str) -> tuple[str, int]:
    return get_server_keys().seal(secret, associated=provider_id.bytes)


def unseal_secret(provider: SsoProvider) -> str:
    return get_server_keys().unseal(
        provider.client_secret_ciphertext,
        associated=provider.id.bytes,
        version=provider.secret_key_version,
    )


def _invalid(message: str, field: str) -> SsoSettingInvalidError:
    return SsoSettingInvalidError(message, field=field)


def clean_issuer(issuer: str) -> str:
    """An https URL, or http on a loopback host (a provider on the same machine)."""
    value = issuer.strip()
    parts = urlsplit(value)
    host = parts.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if parts.scheme not in ("https", "http") or not host or parts.query or parts.fragment:
        raise _invalid(f"'{value[:200]}' is not an issuer URL (https://...).", "issuer")
    if parts.scheme == "http" and not loopback:
        raise _invalid(
            "The issuer must use https (http only for a provider on localhost).", "issuer"
        )
    return value


def _clean_domains(domains: list[str]) -> list[str]:
    out: list[str] = []
    for raw in domains:
        domain = raw.strip().lower().lstrip("@")
        if not domain or "." not in domain or "@" in domain or " " in domain:
            raise _invalid(
                f"'{raw[:100]}' is not an email domain (like example.com).", "allowed_domains"
            )
        if domain not in out:
            out.append(domain)
    return out


async def _clean_mappings(
    session: Session, mappings: list[GroupMapping], groups_claim: str | None
) -> list[dict[str, str | None]]:
    if mappings and not (groups_claim or "").strip():
        raise _invalid("Group mappings need the name of the groups claim.", "groups_claim")
    out: list[dict[str, str | None]] = []
    known_roles = {r.value for r in Role}
    for mapping in mappings:
        role = mapping.role.strip().lower() if mapping.role else None
        if role is not None and role not in known_roles:
            raise _invalid(
                f"'{role}' is not a role; use one of {', '.join(sorted(known_roles))}.",
                "group_mappings",
            )
        group = mapping.group.strip() if mapping.group else None
        if group is not None and await users_repository.find_group_by_name(session, group) is None:
            raise _invalid(f"No group '{group}' exists; create it first.", "group_mappings")
        if group is None and role is None:
            raise _invalid(
                f"The mapping for '{mapping.claim}' gives neither a group nor a role.",
                "group_mappings",
            )
        out.append({"claim": mapping.claim.strip(), "group": group, "role": role})
    return out


def _clean_scopes(scopes: list[str]) -> list[str]:
    cleaned = [s.strip() for s in scopes if s.strip()]
    if "openid" not in cleaned:
        raise _invalid("The scopes must include 'openid'.", "scopes")
    return cleaned


async def _break_glass(session: Session, email: str | None) -> uuid.UUID | None:
    if not email:
        return None
    owner = await users_repository.find_user_by_email(session, email.strip())
    if owner is None or owner.role != Role.OWNER.value or owner.status != "active":
        raise _invalid(
            f"'{email[:320]}' is not an active owner; the break-glass account must be one.",
            "break_glass_owner",
        )
    return owner.id


def _check_require_sso(require_sso: bool, break_glass_id: uuid.UUID | None) -> None:
    if require_sso and break_glass_id is None:
        raise _invalid(
            "Requiring SSO needs a named break-glass owner who may still sign in with a password.",
            "break_glass_owner",
        )


async def add_provider(session: Session, actor: Actor, *, data: ProviderCreate) -> SsoProvider:
    """Add an OIDC provider. Owners only (a workspace setting). Writes `sso.provider_add`."""
    require(actor, Permission.SETTINGS_WRITE)
    name = data.name.strip()
    if not name:
        raise _invalid("The provider needs a name.", "name")
    if await repository.find_provider_by_name(session, name) is not None:
        raise SsoProviderNameTakenError(f"A provider named '{name}' exists already.", name=name)
    scopes = _clean_scopes(data.scopes)
    break_glass_id = await _break_glass(session, data.break_glass_owner)
    _check_require_sso(data.require_sso, break_glass_id)
    provider = SsoProvider(
        id=uuid7(),
        name=name,
        name_key=name.lower(),
        issuer=clean_issuer(data.issuer),
        client_id=data.client_id.strip(),
        client_secret_last4=data.client_secret[-4:],
        scopes=scopes,
        allowed_domains=_clean_domains(data.allowed_domains),
        groups_claim=(data.groups_claim or "").strip() or None,
        group_mappings=await _clean_mappings(session, data.group_mappings, data.groups_claim),
        require_sso=data.require_sso,
        break_glass_user_id=break_glass_id,
        trust_email=data.trust_email,
        session_ttl_minutes=data.session_ttl_minutes,
        is_enabled=True,
    )
    provider.client_secret_ciphertext, provider.secret_key_version = seal_secret(
        provider.id, data.client_secret
    )
    session.add(provider)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise SsoProviderNameTakenError(
            f"A provider named '{name}' exists already.", name=name
        ) from None
    await audit_service.record_on(
        session,
        actor,
        "sso.provider_add",
        "sso_provider",
        provider,
        after=snapshot(data.model_dump(mode="json")),
    )
    return provider


async def update_provider(
    session: Session, actor: Actor, *, name: str, data: ProviderUpdate
) -> SsoProvider:
    """Change a provider's settings (only the fields sent), checked as when adding. A new
    client secret is sealed like the first; the audit event `sso.provider_update` records the
    changed settings before and after, and of a new secret only its last four characters."""
    require(actor, Permission.SETTINGS_WRITE)
    provider = await _load(session, name)
    changes = data.changes()
    before = {k: _current(provider, k) for k in changes if k != "client_secret"}
    if "issuer" in changes:
        provider.issuer = clean_issuer(changes["issuer"])
    if "client_id" in changes:
        provider.client_id = changes["client_id"].strip()
    if "client_secret" in changes:
        secret = changes["client_secret"]
        provider.client_secret_ciphertext, provider.secret_key_version = seal_secret(
            provider.id, secret
        )
        provider.client_secret_last4 = secret[-4:]
    if "scopes" in changes:
        provider.scopes = _clean_scopes(changes["scopes"])
    if "allowed_domains" in changes:
        provider.allowed_domains = _clean_domains(changes["allowed_domains"])
    if "groups_claim" in changes:
        provider.groups_claim = (changes["groups_claim"] or "").strip() or None
    mappings = data.group_mappings
    if mappings is None:
        mappings = [GroupMapping.model_validate(m) for m in provider.group_mappings]
    provider.group_mappings = await _clean_mappings(session, mappings, provider.groups_claim)
    if "break_glass_owner" in changes:
        provider.break_glass_user_id = await _break_glass(session, changes["break_glass_owner"])
    for flag in ("require_sso", "trust_email", "is_enabled"):
        if flag in changes:
            setattr(provider, flag, changes[flag])
    if "session_ttl_minutes" in changes:
        provider.session_ttl_minutes = changes["session_ttl_minutes"]
    _check_require_sso(provider.require_sso, provider.break_glass_user_id)
    await session.flush()
    after = {k: _current(provider, k) for k in changes if k != "client_secret"}
    if "client_secret" in changes:
        after["new_client_key_ending"] = provider.client_secret_last4
    await audit_service.record_on(
        session, actor, "sso.provider_update", "sso_provider", provider, before=before, after=after
    )
    return provider


def _current(provider: SsoProvider, field: str) -> object:
    if field == "break_glass_owner":
        bg = provider.break_glass_user_id
        return None if bg is None else str(bg)
    value: object = getattr(provider, field)
    return list(value) if isinstance(value, list) else value


async def remove_provider(session: Session, actor: Actor, *, name: str) -> None:
    """Remove a provider; its users keep their accounts. Writes `sso.provider_remove`."""
    require(actor, Permission.SETTINGS_WRITE)
    provider = await _load(session, name)
    await audit_service.record_on(session, actor, "sso.provider_remove", "sso_provider", provider)
    await session.delete(provider)
    await session.flush()


async def _load(session: AnySession, name: str) -> SsoProvider:
    provider = await repository.find_provider_by_name(session, name)
    if provider is None:
        raise SsoProviderNotFoundError(
            f"No SSO provider '{name[:100]}' exists (spectra sso list).", name=name[:100]
        )
    return provider


async def get_provider(session: AnySession, actor: Actor, *, name: str) -> SsoProvider:
    require(actor, Permission.READ_ALL)
    return await _load(session, name)


async def list_providers(session: AnySession, actor: Actor) -> Page[SsoProvider]:
    """Every provider, by name (a workspace has a handful: one page)."""
    require(actor, Permission.READ_ALL)
    return Page(items=list(await repository.list_providers(session)))


async def sign_in_choices(session: AnySession) -> list[str]:
    """The names of enabled providers, for the sign-in page's buttons (no permission: public)."""
    return [p.name for p in await repository.list_providers(session, enabled_only=True)]


async def test_provider(session: AnySession, actor: Actor, *, name: str) -> ProviderTestRead:
    """Fetch the provider's discovery document and key set afresh and report what they say."""
    require(actor, Permission.READ_ALL)
    provider = await _load(session, name)
    try:
        found = await oidc.discover(provider.issuer, refresh=True)
    except SsoDiscoveryError as exc:
        return ProviderTestRead.failed(provider.issuer, exc.message)
    methods = found.code_challenge_methods
    pkce = None if methods is None else "S256" in methods
    message = f"Discovery and key set fetched: {len(found.key_ids)} signing key(s)."
    if pkce is False:
        message += " The provider does not announce PKCE S256 support."
    return ProviderTestRead(
        ok=bool(found.key_ids) and pkce is not False,
        issuer=found.issuer,
        authorization_endpoint=found.authorization_endpoint,
        token_endpoint=found.token_endpoint,
        jwks_uri=found.jwks_uri,
        end_session_endpoint=found.end_session_endpoint,
        key_ids=found.key_ids,
        supports_pkce_s256=pkce,
        message=message,
    )
